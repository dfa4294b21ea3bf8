package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"

	"github.com/hashicorp/go-plugin/runner"
)

// procRunner runs the plugin's process for go-plugin. It is go-plugin's own
// command runner plus what hubd needs: a channel closed when the process
// exits (go-plugin exposes no such signal; it restarts nothing) and
// process attributes (die with hubd).
type procRunner struct {
	// mu orders Start and Kill, which a cancelled load calls from another
	// goroutine; killed makes a later Start fail.
	mu             sync.Mutex
	killed         bool
	cmd            *exec.Cmd
	stdout, stderr io.ReadCloser
	path           string
	pid            int
	exited         chan struct{}
}

var _ runner.Runner = (*procRunner)(nil)

func newRunner(path string, cmd *exec.Cmd) (*procRunner, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	setProcAttr(cmd)
	return &procRunner{cmd: cmd, stdout: stdout, stderr: stderr, path: path, exited: make(chan struct{})}, nil
}

// errKilled is returned by Start after Kill.
var errKilled = errors.New("process: the start was stopped")

func (r *procRunner) Start(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.killed {
		return errKilled
	}
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.pid = r.cmd.Process.Pid
	return nil
}

// Wait is called once, by go-plugin, when the process's output is closed.
func (r *procRunner) Wait(context.Context) error {
	defer close(r.exited)
	return r.cmd.Wait()
}

func (r *procRunner) Kill(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killed = true
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *procRunner) Name() string          { return r.path }
func (r *procRunner) ID() string            { return strconv.Itoa(r.pid) }

func (r *procRunner) Diagnose(context.Context) string {
	return fmt.Sprintf("%s did not complete the plugin handshake: is it a hubd process plugin "+
		"(built with sdk/process, or serving hubd.v1.Plugin through go-plugin, app protocol version 1), "+
		"built for this machine?", r.path)
}

func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
