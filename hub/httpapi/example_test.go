package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
)

// Mount the API beside the hub, then publish from a back end with curl:
//
//	curl -H 'Authorization: Bearer change-me' \
//	     -d '{"rooms":"lobby","event":"news","args":[{"title":"hi"}]}' \
//	     http://localhost:3000/api/emit
func ExampleNew() {
	srv := hub.New(hub.Options{})
	api, err := httpapi.New(srv, httpapi.Config{Key: "change-me"})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.Handle("/api/", api)

	req := httptest.NewRequest("POST", "/api/emit", strings.NewReader(`{"rooms":"lobby","event":"news","args":[{"title":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer change-me")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body)
	// Output: 200 {"ok":true}
}
