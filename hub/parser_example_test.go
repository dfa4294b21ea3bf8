package hub_test

import (
	"fmt"

	"github.com/hubd/hubd/hub"
)

// A server for clients created with
// io(url, { parser: require("socket.io-msgpack-parser") }), its parser
// read from a configuration's name.
func ExampleParseParser() {
	parser, err := hub.ParseParser("msgpack")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := hub.New(hub.Options{Parser: parser})
	defer srv.Close()
	fmt.Println(srv.Options().Parser)

	_, err = hub.ParseParser("cbor")
	fmt.Println(err)
	// Output:
	// msgpack
	// hub: unknown parser "cbor": use json or msgpack
}
