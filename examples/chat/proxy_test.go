package chat_test

import (
	"io"
	"net/http"

	"github.com/hubd/hubd/internal/tcpproxy"
)

// controlHandler serves POST /cut and POST /restore for browser.mjs,
// acting on p. cut does the cut (calling p.Cut) and returns once its
// effect is seen; its error is the answer's.
func controlHandler(p *tcpproxy.Proxy, cut func() error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cut", func(w http.ResponseWriter, r *http.Request) {
		if err := cut(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "cut")
	})
	mux.HandleFunc("POST /restore", func(w http.ResponseWriter, r *http.Request) {
		p.Restore()
		_, _ = io.WriteString(w, "restored")
	})
	return mux
}
