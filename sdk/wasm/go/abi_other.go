//go:build !wasip1

package hubd

import (
	"errors"
	"os"
	"time"

	"github.com/hubd/hubd/sdk/wire"
)

// Outside Wasm the host is simulated, so that handlers can be tested with
// Dispatch.

var (
	testOut         []byte
	testOutSet      bool
	testConfig      Raw
	testAttachments [][]byte
)

func emit(b []byte) {
	testOut = append(testOut[:0], b...)
	testOutSet = true
}

func hostLogString(level Level, msg string) {
	names := [...]string{"DEBUG", "INFO", "WARN", "ERROR"}
	name := "ERROR"
	if level >= 0 && int(level) < len(names) {
		name = names[level]
	}
	os.Stderr.WriteString("hubd plugin " + name + ": " + msg + "\n")
}

func readConfig() Raw { return testConfig }

func nowNs() int64 { return time.Now().UnixNano() }

func attachment(i uint32) ([]byte, bool) {
	if uint64(i) >= uint64(len(testAttachments)) {
		return nil, false
	}
	return testAttachments[i], true
}

// SetConfig sets what Config returns (native builds only, for tests).
func SetConfig(cfg Raw) {
	testConfig = cfg
	configLoaded = false
}

// Dispatch runs the registered handler of the envelope's hook on the
// envelope JSON, as the host would, and returns the decision JSON (empty
// for "allow unchanged"). Native builds only, for tests.
func Dispatch(envelope []byte, attachments ...[]byte) ([]byte, error) {
	var probe Envelope
	if !probe.reset("", envelope, len(envelope)) {
		return nil, errors.New(errEnvelope)
	}
	h, _ := Raw(probe.field(wire.FieldHook)).Str()
	id := wire.HookID(Hook(h))
	if id == 0 {
		return nil, errors.New("hubd: unknown hook " + h)
	}
	testOut, testOutSet, testAttachments = testOut[:0], false, attachments
	in := append([]byte(nil), envelope...)
	status := dispatch(id, in, len(in))
	out := append([]byte(nil), testOut...)
	if status != statusOK {
		return nil, errors.New(string(out))
	}
	return out, nil
}
