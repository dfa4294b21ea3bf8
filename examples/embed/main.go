// Command embed is a Go program that embeds the hub next to its own HTTP
// routes: a JavaScript plugin from -plugins decides who may connect and
// rewrites events (reloaded live), the relay gives clients the hubd contract
// (hub:join, hub:leave, relaying), and Go code of its own answers "whoami".
//
//	go run ./examples/embed
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	plugins := flag.String("plugins", "examples/embed/plugins", "folder of plugins, reloaded on change")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ready := make(chan string, 1)
	go func() {
		if a, ok := <-ready; ok {
			log.Printf("listening on http://%s (GET /hello, Socket.IO at /socket.io/)", a)
		}
	}()
	if err := run(ctx, *addr, *plugins, ready); err != nil {
		log.Fatal(err)
	}
}

// run serves the app and the hub on addr until ctx ends, then shuts down
// gracefully. The address actually listened on (useful with port 0) is sent
// on ready, if not nil, once the server accepts connections.
func run(ctx context.Context, addr, pluginDir string, ready chan<- string) error {
	logger := slog.Default()

	// The plugin host, with the JavaScript runtime, loading pluginDir.
	h := host.New(logger)
	defer h.Close()
	// The policy plugin may take 1 s a call (its plugin.json): let an
	// event's chain take as much, rather than the 250 ms default.
	h.SetChainBudget(host.HookEvent, time.Second)
	h.Register("js", js.Runtime{})
	if err := h.LoadDir(ctx, pluginDir); err != nil {
		return fmt.Errorf("loading plugins: %w", err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch() // runs before h.Close: no reload during shutdown
	if err := h.Watch(watchCtx, pluginDir); err != nil {
		return fmt.Errorf("watching plugins: %w", err)
	}

	srv := hub.New(hub.Options{})
	srv.SetHooks(h.Hooks())

	// Go code of our own, side by side with the plugins. A connection
	// listener added before relay.Attach adds its socket middleware before
	// the relay's, so "whoami" is answered here and not relayed (the relay
	// would otherwise answer the ack with {ok: true} first).
	srv.OnConnection(func(s *hub.Socket) {
		s.Use(func(ev *hub.Event) error {
			if ev.Name != "whoami" {
				return nil
			}
			_ = ev.Ack(s.ID())
			return hub.ErrDrop
		})
		// Listeners of an event run after the relay: this one sees the
		// "shout" the plugin upper-cased.
		s.On("shout", func(ev *hub.Event) {
			var text string
			if err := ev.Args.Bind(&text); err == nil {
				logger.Info("shout", "socket", s.ID(), "text", text)
			}
		})
	})
	// The hubd client contract: hub:join / hub:leave and relaying.
	if err := relay.Attach(srv, relay.Config{}); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from the app")
	})
	mux.Handle("/socket.io/", srv)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	if ready != nil {
		ready <- ln.Addr().String()
		close(ready)
	}

	select {
	case err = <-served: // the server failed on its own
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// Close the hub first: WebSocket connections are hijacked, so
		// Shutdown would not wait for them anyway.
		srv.Close()
		err = hs.Shutdown(shutdownCtx)
		cancel()
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		return err
	}
	srv.Close()
	return err
}
