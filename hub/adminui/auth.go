package adminui

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"

	"github.com/hubd/hubd/hub"
	"golang.org/x/crypto/bcrypt"
)

// errInvalidCredentials is what a UI that may not connect is told, the
// Node package's words (the UI shows its login form again on them).
var errInvalidCredentials = errors.New("invalid credentials")

// uiSession is the data of a UI's socket: the session id it was just given,
// if it logged in with its password. Its fields are unexported, so that it
// is listed as {}.
type uiSession struct {
	fresh string
}

// Bounds on what a connecting UI sends, checked before anything is
// looked up: session ids are 16 hex digits, and bcrypt reads 72 bytes of a
// password (bcryptjs, the Node package's, ignores the rest as well).
const (
	maxSessionID   = 64
	maxUsername    = 1024
	bcryptPassword = 72
)

// authenticate is the admin namespace's middleware with BasicAuth, as the
// Node package's: a session id the store knows, or the user name and
// password. A UI that logs in gets a new session id ("session").
func (a *Admin) authenticate(s *hub.Socket) error {
	var auth struct {
		SessionID any `json:"sessionId"`
		Username  any `json:"username"`
		Password  any `json:"password"`
	}
	if json.Unmarshal(s.Handshake().Auth, &auth) != nil {
		return errInvalidCredentials
	}
	ctx, cancel := context.WithTimeout(s.Context(), requestTimeout)
	defer cancel()
	if id, ok := auth.SessionID.(string); ok && id != "" && len(id) <= maxSessionID {
		known, err := a.sessions.Exists(ctx, id)
		if err != nil {
			a.srv.Options().Logger.Warn("adminui: the session store failed", "err", err)
		}
		if known {
			return nil
		}
	}
	user, _ := auth.Username.(string)
	password, _ := auth.Password.(string)
	if len(user) > maxUsername ||
		subtle.ConstantTimeCompare([]byte(user), []byte(a.opts.Auth.Username)) != 1 ||
		!a.checkPassword(ctx, password) {
		return errInvalidCredentials
	}
	id := newSessionID()
	if err := a.sessions.Save(ctx, id); err != nil {
		a.srv.Options().Logger.Warn("adminui: the session store failed", "err", err)
	}
	s.SetData(&uiSession{fresh: id})
	return nil
}

// checkPassword compares password with the hash, a few at a time: each
// costs tens of milliseconds of CPU.
func (a *Admin) checkPassword(ctx context.Context, password string) bool {
	select {
	case a.bcrypt <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-a.bcrypt }()
	p := []byte(password)
	if len(p) > bcryptPassword {
		p = p[:bcryptPassword]
	}
	return bcrypt.CompareHashAndPassword([]byte(a.opts.Auth.PasswordHash), p) == nil
}
