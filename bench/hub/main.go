// Command hub is the benchmark server for cmd/hubbench built on package hub:
// the same contract as bench/node/server.js (the Node reference) and
// bench/bare (the bare gorilla yardstick), on namespace "/":
//
//   - "join" (room) with an ack: join the room, ack with no arguments;
//   - "publish" (room, payload): broadcast "msg" with payload to the room;
//   - "echo" (x) with an ack: ack with x.
//
// With -plugins DIR the hub's hooks are a plugin host loaded from DIR (JS,
// Wasm and process plugins, as hubd loads them), so that hubbench measures
// what the plugin path costs: e.g. bench/hub/plugins holds an event hook
// that reads the event name and the first argument and allows the event,
// in JS and as a Go Wasm guest (built as wasmgo/main.go says).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/process"
	"github.com/hubd/hubd/host/wasm"
	"github.com/hubd/hubd/hub"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until SIGINT")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address")
	memRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (0: the default; 1 records every allocation)")
	recovery := flag.Duration("recovery", 0, "turn connection state recovery on with this max disconnection duration (0: off)")
	plugins := flag.String("plugins", "", "load the plugins of this directory as the hub's hooks")
	trace := flag.Bool("trace", true, "with -plugins, record decision traces (the host's default); false turns them off")
	tracePer := flag.Int("trace-per-socket", 0, "with -plugins and -trace, the records a socket's trace keeps (0: the host's default)")
	flag.Parse()
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		go func() {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, os.Interrupt)
			<-sig
			pprof.StopCPUProfile()
			_ = f.Close()
			os.Exit(0)
		}()
	}

	var opts hub.Options
	if *recovery > 0 {
		opts.ConnectionStateRecovery = &hub.RecoveryOptions{MaxDisconnectionDuration: *recovery}
	}
	srv := hub.New(opts)
	if *plugins != "" {
		h := host.New(nil)
		h.Register("js", js.Runtime{})
		h.Register("wasm", wasm.New())
		h.Register("process", &process.Runtime{})
		h.Register("go", nativeRuntime{})
		to := host.TraceOptions{PerSocket: *tracePer}
		if !*trace {
			to.PerSocket = -1
		}
		if err := h.SetTrace(to); err != nil {
			log.Fatal(err)
		}
		if err := h.LoadDir(context.Background(), *plugins); err != nil {
			log.Fatal(err)
		}
		if len(h.ShadowStats()) > 0 {
			// What the shadow plugins compared and dropped, for the runs
			// that measure them.
			go func() {
				for range time.Tick(5 * time.Second) {
					b, _ := json.Marshal(h.ShadowStats())
					log.Printf("shadows %s", b)
				}
			}()
		}
		srv.SetHooks(h.Hooks())
	}
	srv.OnConnection(func(s *hub.Socket) {
		s.On("join", func(ev *hub.Event) {
			var room string
			if err := ev.Args.Bind(&room); err == nil && room != "" {
				_ = s.Join(room)
			}
			_ = ev.Ack()
		})
		s.On("publish", func(ev *hub.Event) {
			var room string
			if err := ev.Args.Bind(&room); err != nil || room == "" {
				return
			}
			_ = srv.To(room).EmitArgs("msg", ev.Args.From(1))
		})
		s.On("echo", func(ev *hub.Event) {
			_ = ev.Ack(ev.Args)
		})
	})

	if *pprofAddr != "" {
		go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }()
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, srv))
}
