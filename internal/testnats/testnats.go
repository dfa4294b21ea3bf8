// Package testnats finds or starts the NATS server that tests need:
// NATS_URL when set, else a nats-server of the tests' own on a free port.
// It is for tests only.
package testnats

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// MaxPayload is the max_payload of the servers Start runs: larger than
// NATS' default (1 MB), so that tests can carry a megabyte broadcast.
const MaxPayload = 8 << 20

// Find returns the URL of a NATS server for the tests and a function that
// stops the server it started, if any. Its error says how to get one.
func Find() (url string, stop func(), err error) {
	stop = func() {}
	if u := os.Getenv("NATS_URL"); u != "" {
		if err := Ping(u); err != nil {
			return "", stop, fmt.Errorf("NATS_URL=%s does not answer: %w", u, err)
		}
		return u, stop, nil
	}
	srv, err := Start(0)
	if err != nil {
		return "", stop, fmt.Errorf("no NATS server could be started (%v); "+
			"install it (apt-get install nats-server) or set NATS_URL", err)
	}
	return srv.URL, srv.Stop, nil
}

// Ping reports whether the NATS server at url answers within a second.
func Ping(url string) error {
	nc, err := nats.Connect(url, nats.Timeout(time.Second), nats.MaxReconnects(0))
	if err != nil {
		return err
	}
	defer nc.Close()
	return nc.FlushTimeout(time.Second)
}

// Server is a nats-server process of the tests' own.
type Server struct {
	Port int
	URL  string
	dir  string
	cmd  *exec.Cmd
	// exited is closed when the process has ended.
	exited chan struct{}
}

// Start runs nats-server on port (a free one when 0) and waits until it
// answers.
func Start(port int) (*Server, error) {
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	dir, err := os.MkdirTemp("", "hubd-nats-")
	if err != nil {
		return nil, err
	}
	s := &Server{Port: port, URL: "nats://127.0.0.1:" + strconv.Itoa(port), dir: dir}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nats-server"); serr != nil {
			return err
		}
		bin = "/usr/sbin/nats-server"
	}
	conf := filepath.Join(s.dir, "nats.conf")
	text := fmt.Sprintf("listen: 127.0.0.1:%d\nmax_payload: %d\n", s.Port, MaxPayload)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return err
	}
	s.cmd = exec.Command(bin, "-c", conf)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	s.exited = exited
	cmd := s.cmd
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for Ping(s.URL) != nil {
		select {
		case <-exited:
			return fmt.Errorf("nats-server on port %d exited", s.Port)
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("nats-server on port %d did not answer", s.Port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Kill stops the server at once, as a crash would; Restart brings it back.
func (s *Server) Kill() { s.kill() }

// Restart starts the server again on its port after Kill. The port may
// still be held for a moment; it tries until it is free.
func (s *Server) Restart() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.start()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("nats-server did not restart on port %d", s.Port), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	s.kill()
	os.RemoveAll(s.dir)
}
