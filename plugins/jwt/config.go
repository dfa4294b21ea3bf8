package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	hubd "github.com/hubd/hubd/sdk/wasm/go"
)

// Defaults of the config.
const (
	defaultTokenField = "token"
	defaultMaxToken   = 8192
)

// config is the plugin's manifest "config", parsed once.
type config struct {
	tokenField string           // member of handshake.auth holding the token
	hsSecret   []byte           // HS256 secret (nil: HS256 refused)
	rsKeys     []*rsa.PublicKey // RS256 keys (none: RS256 refused)
	esKeys     []*ecdsa.PublicKey
	issuer     string   // required iss, if set
	audience   []string // aud must contain one of these, if set
	leeway     float64  // seconds of clock skew allowed for exp and nbf
	requireExp bool     // refuse tokens without exp
	maxToken   int      // longest token accepted, in bytes
}

// parseConfig reads the config JSON (see README.md).
func parseConfig(raw hubd.Raw) (*config, error) {
	c := &config{tokenField: defaultTokenField, maxToken: defaultMaxToken}
	if raw.IsNull() {
		return nil, errors.New("no config: set at least one of hs256_secret, rs256_keys, es256_keys")
	}
	if raw.Kind() != hubd.KindObject {
		return nil, errors.New("config is not an object")
	}
	var errs []error
	raw.Members(func(key string, v hubd.Raw) bool {
		var err error
		switch key {
		case "token_field":
			c.tokenField, err = str(v)
			if err == nil && c.tokenField == "" {
				err = errors.New("empty")
			}
		case "hs256_secret":
			var s string
			if s, err = str(v); err == nil {
				if len(s) < 32 {
					err = errors.New("shorter than 32 bytes")
				}
				c.hsSecret = []byte(s)
			}
		case "rs256_keys":
			err = eachPEM(v, func(b []byte) error {
				k, err := rsaKey(b)
				c.rsKeys = append(c.rsKeys, k)
				return err
			})
		case "es256_keys":
			err = eachPEM(v, func(b []byte) error {
				k, err := ecKey(b)
				c.esKeys = append(c.esKeys, k)
				return err
			})
		case "issuer":
			c.issuer, err = str(v)
		case "audience":
			if s, ok := v.Str(); ok {
				c.audience = []string{s}
			} else if v.Kind() == hubd.KindArray {
				c.audience = v.Strings()
				if len(c.audience) != v.Len() {
					err = errors.New("not a string or an array of strings")
				}
			} else {
				err = errors.New("not a string or an array of strings")
			}
		case "leeway":
			var ok bool
			if c.leeway, ok = v.Float(); !ok || c.leeway < 0 {
				err = errors.New("not a non-negative number of seconds")
			}
		case "require_exp":
			var ok bool
			if c.requireExp, ok = v.Bool(); !ok {
				err = errors.New("not a boolean")
			}
		case "max_token_bytes":
			n, ok := v.Int()
			if !ok || n <= 0 {
				err = errors.New("not a positive integer")
			}
			c.maxToken = int(n)
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("config %q: %w", key, err))
		}
		return true
	})
	if c.hsSecret == nil && len(c.rsKeys) == 0 && len(c.esKeys) == 0 {
		errs = append(errs, errors.New("config: set at least one of hs256_secret, rs256_keys, es256_keys"))
	}
	return c, errors.Join(errs...)
}

func str(v hubd.Raw) (string, error) {
	s, ok := v.Str()
	if !ok {
		return "", errors.New("not a string")
	}
	return strings.Clone(s), nil
}

// eachPEM calls fn with each PEM block of v: a string (one or more blocks)
// or an array of strings.
func eachPEM(v hubd.Raw, fn func(der []byte) error) error {
	var texts []string
	if s, ok := v.Str(); ok {
		texts = []string{s}
	} else if v.Kind() == hubd.KindArray {
		texts = v.Strings()
		if len(texts) != v.Len() {
			return errors.New("not a string or an array of strings")
		}
	} else {
		return errors.New("not a string or an array of strings")
	}
	n := 0
	for _, t := range texts {
		rest := []byte(t)
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			der := b.Bytes
			switch b.Type {
			case "PUBLIC KEY":
			case "RSA PUBLIC KEY":
				k, err := x509.ParsePKCS1PublicKey(der)
				if err != nil {
					return err
				}
				der, _ = x509.MarshalPKIXPublicKey(k)
			case "CERTIFICATE":
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return err
				}
				der = cert.RawSubjectPublicKeyInfo
			default:
				return fmt.Errorf("PEM block %q: want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", b.Type)
			}
			if err := fn(der); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return errors.New("no PEM block")
	}
	return nil
}

func rsaKey(der []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an RSA key", k)
	}
	if rk.N.BitLen() < 2048 {
		return nil, errors.New("RSA key shorter than 2048 bits")
	}
	return rk, nil
}

func ecKey(der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 ECDSA key")
	}
	return ek, nil
}
