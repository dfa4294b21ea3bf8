// Command token prints an HS256 JSON Web Token for the hubd benchmark,
// signed with the hs256_secret of a jwt plugin manifest (default
// bench/hubd/plugins/jwt/plugin.json), with subject "hubbench" and an
// expiry -ttl from now.
//
//	go run ./bench/hubd/token [-manifest path] [-ttl 1h]
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	manifest := flag.String("manifest", "bench/hubd/plugins/jwt/plugin.json", "jwt plugin manifest holding config.hs256_secret")
	ttl := flag.Duration("ttl", time.Hour, "token lifetime")
	flag.Parse()

	raw, err := os.ReadFile(*manifest)
	if err != nil {
		fail(err)
	}
	var m struct {
		Config struct {
			Secret string `json:"hs256_secret"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		fail(fmt.Errorf("%s: %w", *manifest, err))
	}
	if m.Config.Secret == "" {
		fail(fmt.Errorf("%s: no config.hs256_secret", *manifest))
	}
	claims, err := json.Marshal(map[string]any{"sub": "hubbench", "exp": time.Now().Add(*ttl).Unix()})
	if err != nil {
		fail(err)
	}
	fmt.Println(sign([]byte(m.Config.Secret), claims))
}

// sign returns the compact HS256 JWS of the claims.
func sign(secret, claims []byte) string {
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(s))
	return s + "." + enc.EncodeToString(mac.Sum(nil))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "token:", err)
	os.Exit(1)
}
