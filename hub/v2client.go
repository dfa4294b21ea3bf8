package hub

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/hubd/hubd/hub/internal/sio"
	"github.com/hubd/hubd/internal/jsonstr"
)

// socket.io-client 2.x speaks Engine.IO revision 3 and revision 4 of the
// Socket.IO protocol; Options.AllowEIO3 lets it in, as the reference's
// allowEIO3. Its events, acks and binary attachments are written as a
// current client's, so a broadcast's bytes serve both; what differs is
// the connection to namespaces, which this file holds, as the reference's
// protocol === 3 branches do:
//
//   - the connection joins the main namespace on its own, with no CONNECT
//     from the client (and empty auth); the client sends a CONNECT for the
//     other namespaces only;
//   - a CONNECT carries no payload: the client's query is in the
//     namespace, "/chat?token=abc", and becomes the socket's auth, the
//     parameters as strings ({"token":"abc"});
//   - the CONNECT reply carries no sid: the client makes up the socket's id
//     itself, the Engine.IO session id, prefixed with "<namespace>#"
//     outside the main namespace, so the socket gets that id;
//   - a refused connect is answered with an ERROR packet (type 4, as
//     CONNECT_ERROR now) holding the ConnectError's Data, or the error's
//     message as a JSON string, which the client emits as "error".

// v2Packet rewrites a decoded packet from a 2.x client into the current
// shape: the namespace without its query, and for a CONNECT the query's
// parameters as its payload.
func v2Packet(p *sio.Packet) {
	path, query := splitNamespace(p.Nsp)
	p.Nsp = path
	if p.Type == sio.Connect {
		p.Data = queryObject(query)
	}
}

// splitNamespace splits a 2.x client's namespace into its path and query
// (a fragment dropped), as the reference reads it as a URL.
func splitNamespace(nsp string) (path, query string) {
	if i := strings.IndexByte(nsp, '#'); i >= 0 {
		nsp = nsp[:i]
	}
	path, query, _ = strings.Cut(nsp, "?")
	return path, query
}

// maxQueryParams bounds the parameters read from a namespace's query, as
// Node's querystring.parse bounds a URL's (maxKeys): the rest are dropped,
// so that a CONNECT of "&a" repeated does not cost many times its size.
const maxQueryParams = 1000

// queryObject returns the parameters of query as a JSON object of strings,
// in the order of their names' first appearance, a repeated name taking its last value, at most maxQueryParams of them (JavaScript's
// Object.fromEntries of URLSearchParams); nil for an empty query.
func queryObject(query string) []byte {
	if query == "" {
		return nil
	}
	type pair struct{ k, v string }
	var pairs []pair
	for part := range strings.SplitSeq(query, "&") {
		if part == "" {
			continue
		}
		if len(pairs) == maxQueryParams {
			break
		}
		k, v, _ := strings.Cut(part, "=")
		pairs = append(pairs, pair{unescapeQuery(k), unescapeQuery(v)})
	}
	last := make(map[string]int, len(pairs))
	for i, p := range pairs {
		last[p.k] = i
	}
	b := []byte{'{'}
	for _, p := range pairs {
		at, ok := last[p.k]
		if !ok {
			continue // written at its first place
		}
		delete(last, p.k)
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, p.k)
		b = append(b, ':')
		b = jsonstr.Append(b, pairs[at].v)
	}
	return append(b, '}')
}

// unescapeQuery decodes a query component as URLSearchParams does: "+" is
// a space, and a malformed escape stays as it is.
func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return strings.ReplaceAll(s, "+", " ")
}

// v2SocketID is the id a 2.x client gives its socket in namespace nsp of
// Engine.IO session sid.
func v2SocketID(nsp, sid string) string {
	if nsp == "/" {
		return sid
	}
	return nsp + "#" + sid
}

// v2ConnectErrorPayload is the ERROR payload a 2.x client gets when its
// connect is refused: the ConnectError's Data when it has one, else the
// message as a JSON string.
func v2ConnectErrorPayload(err error) []byte {
	var ce *ConnectError
	if errors.As(err, &ce) {
		if ce.Data != nil {
			if raw, merr := json.Marshal(ce.Data); merr == nil {
				return validUTF8JSON(raw)
			}
		}
		return jsonstr.Append(nil, ce.Message)
	}
	return jsonstr.Append(nil, err.Error())
}
