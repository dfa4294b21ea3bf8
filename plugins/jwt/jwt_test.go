//go:build !wasip1

package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/wasm"
	"github.com/hubd/hubd/internal/plugintest"
	"github.com/hubd/hubd/sdk/wire"
)

// wasmPath is the plugin built in TestMain.
var wasmPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jwt-plugin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wasmPath = filepath.Join(dir, "jwt.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", wasmPath, ".")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		// Fail, never skip: the tests are about the Wasm build.
		fmt.Fprintf(os.Stderr, "building the jwt plugin: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// keys are the test's signing keys.
type keys struct {
	secret          string
	rsa, rsaOther   *rsa.PrivateKey
	ec, ecOther     *ecdsa.PrivateKey
	rsaPEM, ecPEM   string
	otherSecret     string
	rsaPublicKeyPEM []byte
}

func newKeys(t testing.TB) *keys {
	t.Helper()
	k := &keys{secret: "a-test-secret-of-at-least-32-bytes!!", otherSecret: "another-secret-of-at-least-32-bytes!"}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.rsaOther, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.ecOther, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	pub := func(key any) string {
		der, err := x509.MarshalPKIXPublicKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	k.rsaPEM, k.ecPEM = pub(&k.rsa.PublicKey), pub(&k.ec.PublicKey)
	k.rsaPublicKeyPEM = []byte(k.rsaPEM)
	return k
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// sign makes a token of the header and claims (JSON), signed with key
// (a secret string, *rsa.PrivateKey or *ecdsa.PrivateKey).
func sign(t testing.TB, header, claims string, key any) string {
	t.Helper()
	in := b64([]byte(header)) + "." + b64([]byte(claims))
	sum := sha256.Sum256([]byte(in))
	var sig []byte
	switch k := key.(type) {
	case string:
		m := hmac.New(sha256.New, []byte(k))
		m.Write([]byte(in))
		sig = m.Sum(nil)
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(in))
		sig = m.Sum(nil)
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:]); err != nil {
			t.Fatal(err)
		}
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case nil:
	default:
		t.Fatalf("unknown key %T", key)
	}
	return in + "." + b64(sig)
}

const (
	hs = `{"alg":"HS256","typ":"JWT"}`
	rs = `{"alg":"RS256","typ":"JWT"}`
	es = `{"alg":"ES256","typ":"JWT"}`
)

// manifest reads plugin.json as hubd does, with cfg (if not nil) as its
// config, and a 5 s call limit for the shipped 50 ms: a verification
// slowed by a loaded machine would get the failure policy's deny.
func manifest(t testing.TB, cfg any) host.Manifest {
	t.Helper()
	return plugintest.Manifest(t, cfg, 5*time.Second)
}

// generousBudgets raises every chain budget of h as the tests' call limit:
// the default budgets (250 ms an event, 1 s a join) would cut a call
// slowed by a loaded machine short, as the shipped limit would.
func generousBudgets(h *host.Host) {
	for _, hook := range []host.Hook{host.HookConnect, host.HookJoin, host.HookLeave, host.HookEvent, host.HookDisconnect} {
		h.SetChainBudget(hook, 5*time.Second)
	}
}

// rt is one Wasm runtime for every test, so the module compiles once.
var rt = wasm.New()

func newHost(t *testing.T, specs ...host.Spec) *host.Host {
	t.Helper()
	h := host.New(nil)
	generousBudgets(h)
	h.Register("wasm", rt)
	if err := h.Load(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// loadDir loads the plugin as an operator would: a folder in the plugin
// directory holding plugin.json (with cfg as its config) and jwt.wasm.
func loadDir(t *testing.T, cfg any) *host.Host {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "jwt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := manifest(t, cfg)
	raw, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, m.Entry), bin, 0o644); err != nil {
		t.Fatal(err)
	}
	h := host.New(nil)
	generousBudgets(h)
	h.Register("wasm", rt)
	if err := h.LoadDir(context.Background(), filepath.Dir(dir)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func connectEnv(auth string) host.Envelope {
	return host.Envelope{
		Hook: host.HookConnect, Namespace: "/",
		Socket:    host.Socket{ID: "AbCdEfGhIjKlMnOpQrSt", Rooms: []string{}},
		Handshake: &host.Handshake{Auth: wire.Raw(auth), Query: map[string]string{}, Headers: map[string]string{}, Address: "127.0.0.1"},
	}
}

func authToken(field, token string) string {
	b, _ := json.Marshal(map[string]string{field: token})
	return string(b)
}

func deny(code string) string {
	return `{"action":"deny","reason":"invalid token","data":{"code":"` + code + `"}}`
}

func allow(claims string) string {
	var v any
	if err := json.Unmarshal([]byte(claims), &v); err != nil {
		panic(err)
	}
	b, _ := json.Marshal(map[string]any{"claims": v})
	return `{"socket_data":` + string(b) + `}`
}

type tcase struct {
	name string
	auth string // handshake.auth
	want string // the canonical decision
}

func run(t *testing.T, h *host.Host, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := connectEnv(c.auth)
			if got := plugintest.Canonical(t, h.Run(context.Background(), &e)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	k := newKeys(t)
	cfg := map[string]any{
		"hs256_secret": k.secret,
		"rs256_keys":   []string{k.rsaPEM},
		"es256_keys":   k.ecPEM,
		"issuer":       "https://issuer.example",
		"audience":     []string{"hubd", "chat"},
		"leeway":       300,
		"require_exp":  true,
	}
	h := loadDir(t, cfg)
	// The clock is read after the plugin is loaded: compiling it can take
	// tens of seconds on a loaded machine. The "within leeway" cases are
	// 10 s inside the 300 s leeway, so the cases may take most of five
	// minutes to run before those answers change.
	now := time.Now().Unix()
	claims := func(extra string) string {
		return fmt.Sprintf(`{"sub":"ann","team":"red","iss":"https://issuer.example","aud":"hubd","iat":%d,"exp":%d%s}`, now, now+600, extra)
	}
	good := claims("")
	expiredAt := func(exp int64) string {
		return fmt.Sprintf(`{"sub":"ann","iss":"https://issuer.example","aud":"hubd","exp":%d}`, exp)
	}
	tok := func(header, cl string, key any) string { return authToken("token", sign(t, header, cl, key)) }
	valid := sign(t, hs, good, k.secret)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64([]byte(strings.Replace(good, "ann", "bob", 1))) + "." + parts[2]

	run(t, h, []tcase{
		{"HS256 valid", tok(hs, good, k.secret), allow(good)},
		{"RS256 valid", tok(rs, good, k.rsa), allow(good)},
		{"ES256 valid", tok(es, good, k.ec), allow(good)},
		{"Bearer prefix", authToken("token", "Bearer "+valid), allow(good)},
		{"nested claims kept", tok(hs, claims(`,"roles":["a","b"],"org":{"id":7}`), k.secret), allow(claims(`,"roles":["a","b"],"org":{"id":7}`))},
		{"aud array naming one audience", tok(hs, strings.Replace(good, `"aud":"hubd"`, `"aud":["other","chat"]`, 1), k.secret), allow(strings.Replace(good, `"aud":"hubd"`, `"aud":["other","chat"]`, 1))},
		{"expired within leeway", tok(hs, expiredAt(now-10), k.secret), allow(expiredAt(now - 10))},

		{"expired", tok(hs, expiredAt(now-3600), k.secret), deny("expired")},
		{"expired RS256", tok(rs, fmt.Sprintf(`{"sub":"ann","iss":"https://issuer.example","aud":"hubd","exp":%d.5}`, now-3600), k.rsa), deny("expired")},
		{"not yet valid", tok(es, claims(fmt.Sprintf(`,"nbf":%d`, now+3600)), k.ec), deny("not_yet_valid")},
		{"nbf within leeway", tok(es, claims(fmt.Sprintf(`,"nbf":%d`, now+10)), k.ec), allow(claims(fmt.Sprintf(`,"nbf":%d`, now+10)))},
		{"no exp with require_exp", tok(hs, `{"sub":"ann","iss":"https://issuer.example","aud":"hubd"}`, k.secret), deny("bad_claims")},
		{"exp not a number", tok(hs, `{"sub":"ann","iss":"https://issuer.example","aud":"hubd","exp":"tomorrow"}`, k.secret), deny("bad_claims")},
		{"wrong issuer", tok(hs, strings.Replace(good, "issuer.example", "evil.example", 1), k.secret), deny("bad_issuer")},
		{"no issuer", tok(hs, fmt.Sprintf(`{"sub":"ann","aud":"hubd","exp":%d}`, now+600), k.secret), deny("bad_issuer")},
		{"wrong audience", tok(hs, strings.Replace(good, `"aud":"hubd"`, `"aud":"other"`, 1), k.secret), deny("bad_audience")},

		{"HS256 bad signature", tok(hs, good, k.otherSecret), deny("bad_signature")},
		{"RS256 bad signature", tok(rs, good, k.rsaOther), deny("bad_signature")},
		{"ES256 bad signature", tok(es, good, k.ecOther), deny("bad_signature")},
		{"ES256 signature of the wrong size", authToken("token", strings.SplitN(sign(t, es, good, k.ec), ".", 3)[0]+"."+b64([]byte(good))+"."+b64(make([]byte, 70))), deny("bad_signature")},
		{"tampered payload", authToken("token", tampered), deny("bad_signature")},
		{"HS256 keyed with the RSA public key (alg confusion)", tok(hs, good, k.rsaPublicKeyPEM), deny("bad_signature")},

		{"alg none", tok(`{"alg":"none"}`, good, nil), deny("unsupported_alg")},
		{"alg HS384", tok(`{"alg":"HS384"}`, good, k.secret), deny("unsupported_alg")},
		{"alg PS256", tok(`{"alg":"PS256"}`, good, k.rsa), deny("unsupported_alg")},
		{"crit header", tok(`{"alg":"HS256","crit":["exp"]}`, good, k.secret), deny("unsupported_alg")},

		{"malformed: one part", authToken("token", "abc"), deny("malformed")},
		{"malformed: two parts", authToken("token", "abc.def"), deny("malformed")},
		{"malformed: four parts", authToken("token", valid+".x"), deny("malformed")},
		{"malformed: bad base64", authToken("token", "a*b.c*d.e*f"), deny("malformed")},
		{"malformed: header not JSON", authToken("token", b64([]byte("{alg"))+"."+parts[1]+"."+parts[2]), deny("malformed")},
		{"malformed: payload an array", tok(hs, `["sub"]`, k.secret), deny("malformed")},
		{"malformed: no alg", tok(`{"typ":"JWT"}`, good, k.secret), deny("malformed")},
		{"malformed: too long", authToken("token", strings.Repeat("a", 9000)), deny("malformed")},

		{"missing: no auth", `{}`, deny("missing")},
		{"missing: empty token", `{"token":""}`, deny("missing")},
		{"missing: token not a string", `{"token":42}`, deny("missing")},
		{"missing: other field", authToken("jwt", valid), deny("missing")},
	})
}

// TestTokenFieldAndKeyForms: a configured token field, RS256 keys given as
// PKCS #1 PEM and as a certificate, a key set of several keys; algorithms
// without a key are refused.
func TestTokenFieldAndKeyForms(t *testing.T) {
	k := newKeys(t)
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsaOther.PublicKey)}))
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.rsa.PublicKey, k.rsa)
	if err != nil {
		t.Fatal(err)
	}
	cert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	m := manifest(t, map[string]any{"token_field": "jwt", "rs256_keys": []string{pkcs1, cert}})
	h := newHost(t, host.Spec{Manifest: m, Entry: wasmPath})
	good := `{"sub":"ann","exp":4102444800}` // 2100-01-01
	run(t, h, []tcase{
		{"RS256 by the certificate's key", authToken("jwt", sign(t, rs, good, k.rsa)), allow(good)},
		{"RS256 by the PKCS #1 key", authToken("jwt", sign(t, rs, good, k.rsaOther)), allow(good)},
		{"token in the default field", authToken("token", sign(t, rs, good, k.rsa)), deny("missing")},
		{"HS256 without a secret", authToken("jwt", sign(t, hs, good, k.secret)), deny("unsupported_alg")},
		{"ES256 without a key", authToken("jwt", sign(t, es, good, k.ec)), deny("unsupported_alg")},
		{"no exp allowed without require_exp", authToken("jwt", sign(t, rs, `{"sub":"ann"}`, k.rsa)), allow(`{"sub":"ann"}`)},
	})
}

// TestBadConfig: a plugin whose config is unusable fails every call, and
// its on_error policy (deny) applies; the shipped plugin.json has no key,
// so it refuses everything until keys are configured.
func TestBadConfig(t *testing.T) {
	k := newKeys(t)
	for name, cfg := range map[string]any{
		"shipped plugin.json":   nil,
		"short secret":          map[string]any{"hs256_secret": "short"},
		"not a PEM":             map[string]any{"rs256_keys": "nope"},
		"EC key as an RSA key":  map[string]any{"rs256_keys": k.ecPEM},
		"RSA key as an EC key":  map[string]any{"es256_keys": k.rsaPEM},
		"unknown key":           map[string]any{"hs256_secret": k.secret, "secrte": 1},
		"negative leeway":       map[string]any{"hs256_secret": k.secret, "leeway": -1},
		"audience not a string": map[string]any{"hs256_secret": k.secret, "audience": 7},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHost(t, host.Spec{Manifest: manifest(t, cfg), Entry: wasmPath})
			e := connectEnv(authToken("token", sign(t, hs, `{"sub":"ann","exp":4102444800}`, k.secret)))
			if d := h.Run(context.Background(), &e); d.Action != host.Deny {
				t.Errorf("got %s, want a deny", plugintest.Canonical(t, d))
			}
		})
	}
}

func TestManifest(t *testing.T) {
	m := manifest(t, nil)
	if m.Runtime != "wasm" || m.OnError != "deny" || len(m.Hooks) != 1 || m.Hooks[0] != host.HookConnect {
		t.Errorf("plugin.json: %+v", m)
	}
}

func bigOne() *big.Int { return big.NewInt(1) }

// TestWithRoomACL chains the two ready-made plugins as a hub would: the
// claims jwt attaches on connect are what room-acl (../room-acl) reads on
// join.
func TestWithRoomACL(t *testing.T) {
	k := newKeys(t)
	acl := filepath.Join("..", "room-acl")
	raw, err := os.ReadFile(filepath.Join(acl, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var am host.Manifest
	if err := json.Unmarshal(raw, &am); err != nil {
		t.Fatal(err)
	}
	am.Timeout = host.Duration(5 * time.Second) // not the shipped 20 ms, as manifest does
	if err := am.Validate(); err != nil {
		t.Fatal(err)
	}
	h := host.New(nil)
	generousBudgets(h)
	h.Register("wasm", rt)
	h.Register("js", js.Runtime{})
	t.Cleanup(func() { _ = h.Close() })
	specs := []host.Spec{
		{Manifest: manifest(t, map[string]any{"es256_keys": k.ecPEM}), Entry: wasmPath},
		{Manifest: am, Entry: filepath.Join(acl, am.Entry)},
	}
	if err := h.Load(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	e := connectEnv(authToken("token", sign(t, es, `{"sub":"ann","team":"red","exp":4102444800}`, k.ec)))
	d := h.Run(context.Background(), &e)
	if d.Action != "" && d.Action != host.Allow || d.SocketData == nil {
		t.Fatalf("connect: %s", plugintest.Canonical(t, d))
	}
	for room, want := range map[string]host.Action{"user:ann": host.Allow, "team:red:x": host.Allow, "lobby": host.Allow, "user:bob": host.Deny, "team:blue:x": host.Deny} {
		j := host.Envelope{Hook: host.HookJoin, Namespace: "/", Socket: host.Socket{ID: e.Socket.ID, Rooms: []string{}, Data: d.SocketData}, Rooms: []string{room}}
		got := h.Run(context.Background(), &j)
		if got.Action == "" {
			got.Action = host.Allow
		}
		if got.Action != want {
			t.Errorf("join %s: got %s, want %s", room, plugintest.Canonical(t, got), want)
		}
	}
}

// BenchmarkConnect measures one connect call through the host, per
// algorithm (the guest verifies with Go's crypto compiled to Wasm).
func BenchmarkConnect(b *testing.B) {
	k := newKeys(b)
	m := manifest(b, map[string]any{"hs256_secret": k.secret, "rs256_keys": k.rsaPEM, "es256_keys": k.ecPEM})
	h := host.New(nil)
	h.Register("wasm", rt)
	defer h.Close()
	if err := h.Load(context.Background(), []host.Spec{{Manifest: m, Entry: wasmPath}}); err != nil {
		b.Fatal(err)
	}
	claims := `{"sub":"ann","team":"red","exp":4102444800}`
	for _, c := range []struct {
		alg, header string
		key         any
	}{{"HS256", hs, k.secret}, {"RS256", rs, k.rsa}, {"ES256", es, k.ec}} {
		auth := authToken("token", sign(b, c.header, claims, c.key))
		b.Run(c.alg, func(b *testing.B) {
			for b.Loop() {
				e := connectEnv(auth)
				if d := h.Run(context.Background(), &e); d.SocketData == nil {
					b.Fatalf("%+v", d)
				}
			}
		})
	}
}
