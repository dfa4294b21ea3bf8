package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"

	hubd "github.com/hubd/hubd/sdk/wasm/go"
)

// The codes of a refusal (the deny's data {"code": ...}).
const (
	codeMissing        = "missing"         // no token in the handshake
	codeMalformed      = "malformed"       // not three base64url parts of JSON objects
	codeUnsupportedAlg = "unsupported_alg" // alg not configured (none, HS384, ...)
	codeBadSignature   = "bad_signature"
	codeExpired        = "expired"       // exp passed
	codeNotYetValid    = "not_yet_valid" // nbf in the future
	codeBadIssuer      = "bad_issuer"
	codeBadAudience    = "bad_audience"
	codeBadClaims      = "bad_claims" // exp, nbf of the wrong type; exp missing with require_exp
)

// verify checks token at time now (seconds since the epoch) and returns
// its claims (a JSON object), or the code of why it is refused.
func (c *config) verify(token string, now float64) (claims []byte, code string) {
	if len(token) > c.maxToken {
		return nil, codeMalformed
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, codeMalformed
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s, '.') >= 0 {
		return nil, codeMalformed
	}
	header, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil || !json.Valid(header) || hubd.Raw(header).Kind() != hubd.KindObject {
		return nil, codeMalformed
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || !json.Valid(payload) || hubd.Raw(payload).Kind() != hubd.KindObject {
		return nil, codeMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, codeMalformed
	}
	alg, ok := hubd.Raw(header).GetString("alg")
	if !ok {
		return nil, codeMalformed
	}
	if crit := hubd.Raw(header).Get("crit"); crit != nil {
		return nil, codeUnsupportedAlg // no extension is understood (RFC 7515 §4.1.11)
	}
	signed := token[:len(h)+1+len(p)]
	switch alg {
	case "HS256":
		if c.hsSecret == nil {
			return nil, codeUnsupportedAlg
		}
		m := hmac.New(sha256.New, c.hsSecret)
		m.Write([]byte(signed))
		if !hmac.Equal(m.Sum(nil), sig) {
			return nil, codeBadSignature
		}
	case "RS256":
		if len(c.rsKeys) == 0 {
			return nil, codeUnsupportedAlg
		}
		sum := sha256.Sum256([]byte(signed))
		ok := false
		for _, k := range c.rsKeys {
			if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil {
				ok = true
				break
			}
		}
		if !ok {
			return nil, codeBadSignature
		}
	case "ES256":
		if len(c.esKeys) == 0 {
			return nil, codeUnsupportedAlg
		}
		if len(sig) != 64 { // r || s, 32 bytes each (RFC 7518 §3.4)
			return nil, codeBadSignature
		}
		sum := sha256.Sum256([]byte(signed))
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		ok := false
		for _, k := range c.esKeys {
			if ecdsa.Verify(k, sum[:], r, s) {
				ok = true
				break
			}
		}
		if !ok {
			return nil, codeBadSignature
		}
	default:
		return nil, codeUnsupportedAlg
	}
	cl := hubd.Raw(payload)
	if v := cl.Get("exp"); v != nil {
		exp, ok := v.Float()
		if !ok {
			return nil, codeBadClaims
		}
		if now >= exp+c.leeway {
			return nil, codeExpired
		}
	} else if c.requireExp {
		return nil, codeBadClaims
	}
	if v := cl.Get("nbf"); v != nil {
		nbf, ok := v.Float()
		if !ok {
			return nil, codeBadClaims
		}
		if now+c.leeway < nbf {
			return nil, codeNotYetValid
		}
	}
	if c.issuer != "" {
		if iss, ok := cl.GetString("iss"); !ok || iss != c.issuer {
			return nil, codeBadIssuer
		}
	}
	if len(c.audience) > 0 && !audienceOK(cl.Get("aud"), c.audience) {
		return nil, codeBadAudience
	}
	return payload, ""
}

// audienceOK reports whether aud (a string or an array of strings) names
// one of want.
func audienceOK(aud hubd.Raw, want []string) bool {
	var got []string
	if s, ok := aud.Str(); ok {
		got = []string{s}
	} else {
		got = aud.Strings()
	}
	for _, g := range got {
		for _, w := range want {
			if g == w {
				return true
			}
		}
	}
	return false
}
