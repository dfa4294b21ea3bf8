// Package testredis finds or starts the Redis that tests need: REDIS_URL,
// else the server on 127.0.0.1:6379, else a redis-server of the tests' own
// on a free port. It is for tests only.
package testredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Find returns the URL of a Redis for the tests and a function that stops
// the server it started, if any. Its error says how to get one.
func Find() (url string, stop func(), err error) {
	stop = func() {}
	if u := os.Getenv("REDIS_URL"); u != "" {
		if err := Ping(u); err != nil {
			return "", stop, fmt.Errorf("REDIS_URL=%s does not answer: %w", u, err)
		}
		return u, stop, nil
	}
	if Ping("redis://127.0.0.1:6379") == nil {
		return "redis://127.0.0.1:6379", stop, nil
	}
	srv, err := Start(0)
	if err != nil {
		return "", stop, fmt.Errorf("no Redis at 127.0.0.1:6379 and none could be started (%v); "+
			"install Redis (apt-get install redis-server) or set REDIS_URL", err)
	}
	return srv.URL, srv.Stop, nil
}

// Ping reports whether the Redis at url answers within a second.
func Ping(url string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	opt.MaxRetries = -1
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err()
}

// Server is a redis-server process of the tests' own, keeping nothing on
// disk.
type Server struct {
	Port int
	URL  string
	dir  string
	cmd  *exec.Cmd
}

// Start runs redis-server on port (a free one when 0) and waits until it
// answers.
func Start(port int) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	dir, err := os.MkdirTemp("", "hubd-redis-")
	if err != nil {
		return nil, err
	}
	p := strconv.Itoa(port)
	cmd := exec.Command(bin, "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{Port: port, URL: "redis://127.0.0.1:" + p, dir: dir, cmd: cmd}
	deadline := time.Now().Add(5 * time.Second)
	for Ping(s.URL) != nil {
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("redis-server on port %d did not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, nil
}

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	_, _ = s.cmd.Process.Wait()
	os.RemoveAll(s.dir)
}
