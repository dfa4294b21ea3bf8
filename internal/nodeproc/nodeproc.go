// Package nodeproc runs, for tests, a Node.js script that reads one JSON
// command per line on stdin and answers each with one JSON line carrying
// the command's "id": {"id", "result"} or {"id", "error"}. Lines without an
// id (notices the script prints on its own) go to a callback. Any other
// program that reads its stdin until it closes runs the same way
// (StartCommand).
package nodeproc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Proc is a running script.
type Proc struct {
	t     testing.TB
	cmd   *exec.Cmd
	in    io.WriteCloser
	mu    sync.Mutex
	next  int
	calls map[int]chan answer

	waitOnce sync.Once
}

type answer struct {
	ID     *int            `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// Start runs `node script` in dir with env added to the environment.
// notice receives each line that answers no command. The process ends
// when the test does.
func Start(t testing.TB, dir, script string, env []string, notice func(line []byte)) *Proc {
	t.Helper()
	cmd := exec.Command("node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return StartCommand(t, cmd, notice)
}

// StartCommand runs cmd as Start runs a script: its stdin takes the
// commands and closes when the test ends, its stdout the answers and
// notices; its stderr is the test's unless cmd says otherwise.
func StartCommand(t testing.TB, cmd *exec.Cmd, notice func(line []byte)) *Proc {
	t.Helper()
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	p := &Proc{t: t, cmd: cmd, in: in, calls: map[int]chan answer{}}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var a answer
			if json.Unmarshal(sc.Bytes(), &a) != nil || a.ID == nil {
				if notice != nil {
					notice(append([]byte(nil), sc.Bytes()...))
				}
				continue
			}
			p.mu.Lock()
			ch := p.calls[*a.ID]
			delete(p.calls, *a.ID)
			p.mu.Unlock()
			if ch != nil {
				ch <- a
			}
		}
		if notice != nil {
			notice(nil) // the script's output ended
		}
	}()
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { p.wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// Kill ends the process with SIGKILL, as a crash would, and waits until
// it has exited.
func (p *Proc) Kill() error {
	err := p.cmd.Process.Kill()
	p.wait()
	return err
}

// wait waits for the process to exit, once for every caller.
func (p *Proc) wait() { p.waitOnce.Do(func() { _ = p.cmd.Wait() }) }

// Call sends cmd (its "id" is set here), waits up to 30 s for the answer
// and decodes its result into out when out is not nil. The bound only
// catches a hung script: a loaded machine can take seconds to answer.
func (p *Proc) Call(cmd map[string]any, out any) error {
	p.mu.Lock()
	p.next++
	id := p.next
	ch := make(chan answer, 1)
	p.calls[id] = ch
	cmd["id"] = id
	line, err := json.Marshal(cmd)
	if err == nil {
		_, err = p.in.Write(append(line, '\n'))
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case a := <-ch:
		if a.Error != "" {
			return fmt.Errorf("%v: %s", cmd["op"], a.Error)
		}
		if out != nil {
			if err := json.Unmarshal(a.Result, out); err != nil {
				return fmt.Errorf("%v: result %s: %w", cmd["op"], a.Result, err)
			}
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%v: no answer within 30s", cmd)
	}
}

// Must is Call, failing the test on an error.
func (p *Proc) Must(cmd map[string]any, out any) {
	p.t.Helper()
	if err := p.Call(cmd, out); err != nil {
		p.t.Fatal(err)
	}
}
