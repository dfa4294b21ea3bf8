package adminui_test

import (
	"log"
	"net/http"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/adminui"
)

func ExampleInstrument() {
	srv := hub.New(hub.Options{
		// The hosted UI, https://admin.socket.io, polls from its origin
		// with credentials.
		CORS: &hub.CORS{Origins: []string{"https://admin.socket.io"}, Credentials: true},
	})
	admin, err := adminui.Instrument(srv, adminui.Options{
		Auth: &adminui.BasicAuth{
			Username: "admin",
			// bcrypt of "changeit", made by bcryptjs (as the Node package's docs do)
			PasswordHash: "$2a$10$IHxoUKFVmSvq6QC3pK9yeOKVMHo0yGXh6Os0w8QDsxHOs3ztIlgsq",
		},
		Mode: adminui.Production,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer admin.Close()
	http.Handle("/socket.io/", srv)
}

func ExampleHandler() {
	ui, err := adminui.Handler("node_modules/@socket.io/admin-ui")
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/admin/", http.StripPrefix("/admin/", ui))
}
