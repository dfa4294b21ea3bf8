package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	cfg, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":3000" || cfg.SocketIO.Path != "/socket.io/" ||
		time.Duration(cfg.SocketIO.PingInterval) != 25*time.Second ||
		time.Duration(cfg.SocketIO.PingTimeout) != 20*time.Second ||
		cfg.SocketIO.MaxPayload != 1_000_000 || cfg.Log.Format != "text" || cfg.Log.Level != "info" ||
		len(cfg.Namespaces) != 1 || cfg.Namespaces[0].Name != "/" || cfg.API.Key != "" || cfg.Plugins.Dir != "" ||
		!cfg.Metrics.Enabled || !cfg.SocketIO.CleanupEmptyChildNamespaces || cfg.SocketIO.AllowedOrigins != nil ||
		cfg.SocketIO.MaxChildNamespaces != 10_000 {
		t.Fatalf("defaults: %+v", cfg)
	}
	if h := cfg.HTTP; time.Duration(h.ReadHeaderTimeout) != 10*time.Second || time.Duration(h.ReadTimeout) != 30*time.Second ||
		time.Duration(h.IdleTimeout) != 30*time.Second || h.MaxHeaderBytes != 64<<10 || h.MaxConnsPerIP != 0 {
		t.Fatalf("http defaults: %+v", h)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "hubd.json", `{
		"listen": "127.0.0.1:4000",
		"socketio": {"path": "/rt/", "cors_origins": ["https://a.example"], "ping_interval": "5s", "ping_timeout": "3s", "write_timeout": "7s", "max_payload": 5000},
		"namespaces": [{"name": "/"}, {"pattern": "/team-\\d+", "route": "namespace", "echo": true}],
		"plugins": {"dir": "`+dir+`"},
		"api": {"key": "k", "max_body": 100},
		"static": {"dir": "`+dir+`"},
		"log": {"format": "json", "level": "debug"},
		"metrics": {"enabled": false},
		"http": {"read_header_timeout": "2s", "read_timeout": "3s", "idle_timeout": "4s", "max_header_bytes": 8192, "max_conns_per_ip": 50}
	}`)
	cfg, err := Load([]string{"-config", f}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:4000" || cfg.SocketIO.Path != "/rt/" || cfg.SocketIO.CORSOrigins[0] != "https://a.example" ||
		time.Duration(cfg.SocketIO.PingInterval) != 5*time.Second || time.Duration(cfg.SocketIO.PingTimeout) != 3*time.Second ||
		time.Duration(cfg.SocketIO.WriteTimeout) != 7*time.Second || cfg.SocketIO.MaxPayload != 5000 || len(cfg.Namespaces) != 2 || cfg.Namespaces[1].Route != "namespace" || !cfg.Namespaces[1].Echo ||
		cfg.Plugins.Dir != dir || cfg.API.Key != "k" || cfg.API.MaxBody != 100 || cfg.Static.Dir != dir ||
		cfg.Log.Format != "json" || cfg.Log.Level != "debug" {
		t.Fatalf("file config: %+v", cfg)
	}
	if cfg.Metrics.Enabled {
		t.Fatalf("metrics.enabled false in the file, true in the config")
	}
	if h := cfg.HTTP; h != (HTTPConfig{Duration(2 * time.Second), Duration(3 * time.Second), Duration(4 * time.Second), 8192, 50}) {
		t.Fatalf("http: %+v", h)
	}
	rc := cfg.relayConfig()
	if rc.Namespaces[1].Pattern != `/team-\d+` || rc.Namespaces[1].Route != "namespace" || !rc.Namespaces[1].Echo {
		t.Fatalf("relay config: %+v", rc)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	envDir := filepath.Join(dir, "env")
	flagDir := filepath.Join(dir, "flag")
	for _, d := range []string{envDir, flagDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := writeFile(t, dir, "hubd.json", `{"listen": ":1111", "api": {"key": "file"}, "plugins": {"dir": "`+dir+`"},
		"static": {"dir": "`+dir+`"}, "log": {"format": "json", "level": "warn"}}`)

	// file only
	cfg, err := Load([]string{"-config", f}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":1111" || cfg.API.Key != "file" || cfg.Plugins.Dir != dir || cfg.Log.Format != "json" {
		t.Fatalf("file: %+v", cfg)
	}

	// env over file
	e := env(map[string]string{
		"HUBD_LISTEN": ":2222", "HUBD_API_KEY": "env", "HUBD_PLUGINS": envDir,
		"HUBD_STATIC": envDir, "HUBD_LOG_FORMAT": "text",
	})
	cfg, err = Load([]string{"-config", f}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":2222" || cfg.API.Key != "env" || cfg.Plugins.Dir != envDir || cfg.Static.Dir != envDir ||
		cfg.Log.Format != "text" || cfg.Log.Level != "warn" {
		t.Fatalf("env over file: %+v", cfg)
	}

	// flags over env over file
	cfg, err = Load([]string{"-config", f, "-listen", ":3333", "-api-key", "flag", "-plugins", flagDir,
		"-static", flagDir, "-log-format", "json", "-log-level", "error"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":3333" || cfg.API.Key != "flag" || cfg.Plugins.Dir != flagDir || cfg.Static.Dir != flagDir ||
		cfg.Log.Format != "json" || cfg.Log.Level != "error" {
		t.Fatalf("flags over env: %+v", cfg)
	}

	// A flag given explicitly as empty still wins: -api-key "" turns the API off.
	cfg, err = Load([]string{"-config", f, "-api-key", ""}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Key != "" {
		t.Fatalf("empty flag: key %q", cfg.API.Key)
	}
}

func TestValidation(t *testing.T) {
	dir := t.TempDir()
	aFile := writeFile(t, dir, "file.txt", "x")
	cases := []struct {
		name string
		args []string
		file string
		want []string // every one must be reported
	}{
		{"all at once", []string{"-listen", "nope", "-plugins", "/does/not/exist", "-log-format", "xml",
			"-log-level", "loud", "-path", "rt", "-static", aFile, "-tls-cert", "/no/cert"},
			"", []string{`listen "nope"`, "plugin directory /does/not/exist does not exist", `log.format "xml"`,
				`log.level "loud"`, `socketio.path "rt"`, "static directory " + aFile + " is not a directory",
				"tls: set both", "tls.cert_file /no/cert"}},
		{"parser", nil, `{"socketio": {"parser": "xml"}}`, []string{`socketio.parser "xml": json or msgpack`}},
		{"msgpack with 2.x clients", []string{"-parser", "msgpack"}, `{"socketio": {"allow_eio3": true}}`, []string{"socketio.allow_eio3 with socketio.parser"}},
		{"per_message_deflate", nil, `{"socketio": {"per_message_deflate": {"threshold": 0}}}`, []string{"socketio.per_message_deflate.threshold 0"}},
		{"per_message_deflate shape", nil, `{"socketio": {"per_message_deflate": "yes"}}`, []string{"socketio.per_message_deflate: true, false or"}},
		{"admin_ui without a login", []string{"-admin-ui"}, `{}`, []string{"admin_ui.auth: set username and password_hash"}},
		{"admin_ui values", nil, `{"admin_ui": {"enabled": true, "auth": {"username": "ops", "password_hash": "plain"}, "mode": "loud", "sessions": "redis", "ui_dir": "/nowhere", "ui_path": "admin"}}`,
			[]string{`admin_ui: Auth.PasswordHash must be a bcrypt hash (such as $2b$10$...): crypto/bcrypt: hashedSecret too short to be a bcrypted password; mode "loud"`, `admin_ui.sessions "redis" keeps the sessions in the adapter's Redis`, `admin_ui.ui_dir "/nowhere"`, `admin_ui.ui_path "admin"`}},
		{"plugins.tape", nil, `{"plugins": {"tape": {"file": "t.tape", "hooks": ["ping"], "sample": 2}}}`, []string{`plugins.tape hooks: unknown hook "ping"`, "plugins.tape sample is 2"}},
		{"file values", nil, `{"socketio": {"ping_interval": "-1s", "ping_timeout": "0s", "write_timeout": "0s", "max_payload": 0, "cors_origins": [""]},
			"namespaces": [{"name": "chat"}, {"pattern": "(", "route": "everywhere"}, {}, {"name": "/a", "pattern": "/b"}],
			"api": {"max_body": -1}}`,
			[]string{"socketio.ping_interval", "socketio.ping_timeout", "socketio.write_timeout", "socketio.max_payload", "socketio.cors_origins[0]",
				`namespaces[0]: name "chat" must start with /`, `namespaces[1]: pattern "("`, `namespaces[1]: route "everywhere"`,
				"namespaces[2]: set a name or a pattern", "namespaces[3]: set a name or a pattern, not both", "api.max_body"}},
		{"http values", nil, `{"http": {"read_header_timeout": "0s", "read_timeout": "-1s", "idle_timeout": "0s",
			"max_header_bytes": 10, "max_conns_per_ip": -1}}`,
			[]string{"http.read_header_timeout 0s", "http.read_timeout -1s", "http.idle_timeout 0s",
				"http.max_header_bytes 10", "http.max_conns_per_ip -1"}},
		{"max child namespaces", nil, `{"socketio": {"max_child_namespaces": 0}}`, []string{"socketio.max_child_namespaces 0"}},
		{"origins", nil, `{"socketio": {"allowed_origins": ["https://ok.example", "*", "null", "chat.example", "https://x.example/path", ""]}}`,
			[]string{`socketio.allowed_origins[3] "chat.example"`, `socketio.allowed_origins[4] "https://x.example/path"`,
				`socketio.allowed_origins[5] ""`}},
		{"no namespaces", nil, `{"namespaces": []}`, []string{"namespaces: empty"}},
		{"chain budgets", nil, `{"plugins": {"chain_budgets": {"event": "0s", "message": "1s", "connect": "2s"}}}`,
			[]string{"plugins.chain_budgets.event 0s", `plugins.chain_budgets: unknown hook "message"`}},
		{"bad port", []string{"-listen", ":99999"}, "", []string{`port "99999"`}},
		{"reserved path", []string{"-path", "/api/"}, "", []string{"reserved"}},
		{"reserved metrics path", []string{"-path", "/metrics/"}, "", []string{"reserved"}},
		{"unknown field", nil, `{"listen": ":1", "plugin_dir": "x"}`, []string{`plugin_dir: unknown key`}},
		{"every JSON problem", nil, `{"listen": 3000, "bogus": true,
			"socketio": {"ping_interval": "fast", "max_payload": "big", "extra": 1},
			"namespaces": [{"name": "/", "route": 5}, {"nmae": "/x"}],
			"recovery": {"duration": "soon"}, "http": {"read_timeout": 10}}`,
			[]string{"bogus: unknown key", `http.read_timeout: a duration is a string such as "25s", not 10`,
				"listen: a string, not a number", "namespaces[0].route: a string, not a number", "namespaces[1].nmae: unknown key",
				`recovery.duration: time: invalid duration "soon"`, "socketio.extra: unknown key",
				"socketio.max_payload: a number, not a string", `socketio.ping_interval: time: invalid duration "fast"`}},
		{"bad duration", nil, `{"socketio": {"ping_interval": 25}}`, []string{"a duration is a string"}},
		{"missing config file", []string{"-config", filepath.Join(dir, "none.json")}, "", []string{"none.json does not exist"}},
		{"bad flag", []string{"-no-such-flag"}, "", []string{"flag provided but not defined"}},
		{"extra argument", []string{"serve"}, "", []string{"unexpected arguments"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.file != "" {
				f := writeFile(t, t.TempDir(), "c.json", c.file)
				args = append([]string{"-config", f}, args...)
			}
			_, err := Load(args, env(nil), io.Discard)
			wantProblems(t, fmt.Sprintf("case %d", i), err, c.want)
		})
	}
}

func TestRunBadConfigExitsTwo(t *testing.T) {
	var out strings.Builder
	code := run([]string{"-plugins", "/does/not/exist", "-log-format", "xml"}, env(nil), &out)
	if code != exitConfig {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(out.String(), "plugin directory /does/not/exist does not exist") ||
		!strings.Contains(out.String(), `log.format "xml"`) {
		t.Fatalf("stderr: %s", out.String())
	}
}

// TestExampleConfigs loads the example configs with hubd's loader, from
// the repository root as the README's commands run them.
func TestExampleConfigs(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	for _, f := range []string{"examples/hubd.json", "examples/chat/hubd.json"} {
		if _, err := Load([]string{"-config", f}, env(nil), io.Discard); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestShutdownGrace: shutdown_grace is 10s by default, read from the file,
// and must be positive.
func TestShutdownGrace(t *testing.T) {
	cfg, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if g := time.Duration(cfg.ShutdownGrace); g != 10*time.Second {
		t.Fatalf("default shutdown_grace %v, want 10s", g)
	}
	f := writeFile(t, t.TempDir(), "hubd.json", `{"shutdown_grace": "45s"}`)
	if cfg, err = Load([]string{"-config", f}, env(nil), io.Discard); err != nil {
		t.Fatal(err)
	}
	if g := time.Duration(cfg.ShutdownGrace); g != 45*time.Second {
		t.Fatalf("shutdown_grace %v from the file, want 45s", g)
	}
	for _, bad := range []string{`"0s"`, `"-1s"`} {
		f := writeFile(t, t.TempDir(), "hubd.json", `{"shutdown_grace": `+bad+`}`)
		_, err := Load([]string{"-config", f}, env(nil), io.Discard)
		var ce *ConfigError
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.Contains(ce.Problems[0], "shutdown_grace") {
			t.Errorf("shutdown_grace %s: %v, want one problem about shutdown_grace", bad, err)
		}
	}
}

// wantProblems checks that err is a *ConfigError with one problem per
// entry of want, each found in its text.
func wantProblems(t *testing.T, what string, err error, want []string) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: want a *ConfigError, got %v", what, err)
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: missing %q in:\n%s", what, w, msg)
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%s: want %d problems, got %d:\n%s", what, len(want), len(ce.Problems), msg)
	}
}
