package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hubd/hubd/hub"
)

// Handler serves the API. It is safe for concurrent use.
type Handler struct {
	srv       *hub.Server
	cfg       Config
	keyDigest [sha256.Size]byte
	endpoints map[string]endpoint
}

// endpoint is one operation of the API.
type endpoint struct {
	methods []string // the first is the one named in 405 answers
	serve   func(h *Handler, w http.ResponseWriter, r *http.Request)
}

// New returns the API of srv. It returns cfg.Validate's error, if any.
func New(srv *hub.Server, cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{srv: srv, cfg: cfg.withDefaults(), keyDigest: sha256.Sum256([]byte(cfg.Key))}
	post := []string{http.MethodPost}
	get := []string{http.MethodGet, http.MethodHead}
	h.endpoints = map[string]endpoint{
		"emit":                {post, (*Handler).emit},
		"rooms":               {get, (*Handler).rooms},
		"sockets":             {get, (*Handler).sockets},
		"disconnect":          {post, (*Handler).disconnect},
		"revoke":              {post, (*Handler).revoke},
		"shadows":             {get, (*Handler).shadows},
		"shadows/divergences": {get, (*Handler).shadowDivergences},
	}
	return h, nil
}

// ServeHTTP authenticates the request, then runs the endpoint its path
// names.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.authorized(w, r) {
		return
	}
	name, found := strings.CutPrefix(r.URL.Path, h.cfg.Prefix)
	ep, known := h.endpoints[name]
	if id, ok := traceID(name); ok && found {
		ep, known = endpoint{[]string{http.MethodGet, http.MethodHead}, func(h *Handler, w http.ResponseWriter, _ *http.Request) { h.trace(w, id) }}, true
	}
	if shadow, ok := promotedShadow(name); ok && found {
		ep, known = endpoint{[]string{http.MethodPost}, func(h *Handler, w http.ResponseWriter, _ *http.Request) { h.promote(w, shadow) }}, true
	}
	if !found || !known {
		also := ""
		if h.cfg.Trace != nil {
			also = ", sockets/{id}/trace"
		}
		if h.cfg.Revoke != nil {
			also += ", revoke"
		}
		if h.cfg.Shadows != nil {
			also += ", shadows"
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s: use %semit, rooms, sockets%s or disconnect", r.URL.Path, h.cfg.Prefix, also))
		return
	}
	allowed := false
	for _, m := range ep.methods {
		allowed = allowed || r.Method == m
	}
	if !allowed {
		w.Header().Set("Allow", strings.Join(ep.methods, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use %s", r.Method, ep.methods[0]))
		return
	}
	ep.serve(h, w, r)
}

// authorized checks the bearer key, answering 401 when it is missing or
// wrong. Digests of equal length are compared in constant time, so the
// time taken tells nothing of the key, not even its length.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hubd"`)
		writeError(w, http.StatusUnauthorized, "missing API key: send the header Authorization: Bearer <key>")
		return false
	}
	digest := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if subtle.ConstantTimeCompare(digest[:], h.keyDigest[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hubd", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "wrong API key")
		return false
	}
	return true
}

// namespace finds an existing namespace by name ("/" when empty), or
// answers 404.
func (h *Handler) namespace(w http.ResponseWriter, name string) *hub.Namespace {
	if name == "" {
		name = "/"
	} else if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if n := h.srv.Namespace(name); n != nil {
		return n
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("unknown namespace %q", name))
	return nil
}

// decode reads the JSON body into dst, answering 413 or 400 on failure. A
// body is read whole (at most MaxBody bytes) and must be UTF-8, as JSON
// between systems is: its strings and raw arguments may end up in
// WebSocket text frames.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	if r.ContentLength > h.cfg.MaxBody {
		writeError(w, http.StatusRequestEntityTooLarge, h.tooLarge())
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, h.tooLarge())
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, "cannot read the body: "+err.Error())
		return false
	case !utf8.Valid(body):
		writeError(w, http.StatusBadRequest, errNotUTF8)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil && dec.More() {
		err = errMultiple
	}
	if err == nil {
		return true
	}
	writeError(w, http.StatusBadRequest, "bad JSON body: "+jsonProblem(err))
	return false
}

const errNotUTF8 = "bad JSON body: it is not valid UTF-8: encode the body as UTF-8, and binary data as text (base64, say)"

func (h *Handler) tooLarge() string {
	return "body larger than " + strconv.FormatInt(h.cfg.MaxBody, 10) + " bytes"
}

// jsonProblem says what is wrong with a body in the caller's terms.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Sprintf("%s: want a JSON %s, not %s", typeErr.Field, jsonType(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &typeErr):
		return "the body must be a JSON object"
	case errors.Is(err, errMultiple):
		return err.Error()
	case errors.Is(err, io.EOF):
		return "the body is empty: send a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends before its JSON value does"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

var errMultiple = errors.New("the body holds more than one JSON value")

func jsonType(kind string) string {
	switch kind {
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	case "struct", "map":
		return "object"
	case "string":
		return "string"
	}
	return kind
}

// answerCluster answers a failed adapter request: 504 when the other nodes
// were too slow, 500 otherwise.
func answerCluster(w http.ResponseWriter, err error) {
	if errors.Is(err, hub.ErrUnavailable) {
		writeError(w, http.StatusServiceUnavailable, "the other nodes cannot be reached: "+err.Error())
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		writeError(w, http.StatusGatewayTimeout, "the other nodes did not answer in time")
		return
	}
	writeError(w, http.StatusInternalServerError, "adapter request failed: "+err.Error())
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"ok":false,"error":"could not encode the answer"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorBody struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}
