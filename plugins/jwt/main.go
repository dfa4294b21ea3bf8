// Command jwt is a hubd Wasm plugin that authenticates sockets on connect
// with a JSON Web Token (HS256, RS256 or ES256) and attaches its claims to
// the socket as socket_data {"claims": {...}}. See README.md.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/jwt/jwt.wasm ./plugins/jwt
package main

import (
	"strings"

	hubd "github.com/hubd/hubd/sdk/wasm/go"
)

func init() {
	hubd.OnConnect(connect)
}

var (
	cfg    *config
	cfgErr error
)

// loadConfig parses the manifest's config once, on the first call.
func loadConfig() (*config, error) {
	if cfg == nil && cfgErr == nil {
		cfg, cfgErr = parseConfig(hubd.Config())
	}
	return cfg, cfgErr
}

// invalid is the deny for a refused token.
func invalid(e *hubd.Envelope, code string) hubd.Decision {
	return hubd.DenyWith("invalid token", e.Object(hubd.KV("code", e.String(code))))
}

func connect(e *hubd.Envelope) hubd.Decision {
	c, err := loadConfig()
	if err != nil {
		// A broken config fails every call: the plugin's on_error applies
		// (deny by default on connect), and the message reaches the log.
		panic("jwt: " + err.Error())
	}
	token, ok := e.AuthString(c.tokenField)
	if !ok || token == "" {
		return invalid(e, codeMissing)
	}
	token = strings.TrimPrefix(token, "Bearer ")
	now := float64(hubd.Now().UnixNano()) / 1e9
	claims, code := c.verify(token, now)
	if code != "" {
		return invalid(e, code)
	}
	return hubd.Decision{SocketData: e.Object(hubd.KV("claims", claims))}
}

func main() {}
