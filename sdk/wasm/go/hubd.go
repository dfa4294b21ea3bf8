// Package hubd is the Go guest SDK for hubd Wasm plugins (ABI hubd_v1,
// see sdk/wasm/ABI.md).
//
// A plugin registers handlers in init and has an empty main:
//
//	package main
//
//	import hubd "github.com/hubd/hubd/sdk/wasm/go"
//
//	func init() {
//		hubd.OnEvent(func(e *hubd.Envelope) hubd.Decision {
//			if e.Event() == "spam" {
//				return hubd.Drop()
//			}
//			return hubd.Allow()
//		})
//	}
//
//	func main() {}
//
// and is built as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// A plugin in a module of its own gets the SDK like any Go package:
//
//	go get github.com/hubd/hubd/sdk/wasm/go
//
// The package imports only the standard library and package wire
// (sdk/wire), which holds the types, names and JSON writer the host uses
// too (Decision and Raw are wire's), so none of hubd's dependencies enters
// the plugin's build. Working from a checkout of hubd instead, point the
// module at it:
//
//	go mod edit -replace github.com/hubd/hubd=/path/to/hubd
//
// The SDK reads the envelope with a small hand-written scanner (wire's)
// and writes the decision by hand (Decision.AppendJSON): no reflection,
// no encoding/json (which costs tens of microseconds per call inside
// Wasm). Envelope strings point into the input buffer and are valid during
// the call only.
//
// Outside Wasm (GOOS other than wasip1) the package still builds, so that a
// plugin's handlers can be unit tested natively with Dispatch.
package hubd

import (
	"time"

	"github.com/hubd/hubd/sdk/wire"
)

// Handler answers one hook call.
type Handler func(e *Envelope) Decision

var handlers [len(wire.HookIDs)]Handler

// On registers the handler of a hook (replacing any earlier one).
func On(h Hook, fn Handler) {
	id := wire.HookID(h)
	if id == 0 {
		panic("hubd: unknown hook " + string(h))
	}
	handlers[id] = fn
}

// OnConnect registers the connect handler.
func OnConnect(fn Handler) { On(HookConnect, fn) }

// OnJoin registers the join handler.
func OnJoin(fn Handler) { On(HookJoin, fn) }

// OnLeave registers the leave handler.
func OnLeave(fn Handler) { On(HookLeave, fn) }

// OnEvent registers the event handler.
func OnEvent(fn Handler) { On(HookEvent, fn) }

// OnDisconnect registers the disconnect handler.
func OnDisconnect(fn Handler) { On(HookDisconnect, fn) }

// hookMask is the hubd_hooks answer: bit id for each registered hook.
func hookMask() uint32 {
	var m uint32
	for id, fn := range handlers {
		if fn != nil {
			m |= 1 << id
		}
	}
	return m
}

// Status codes hubd_handle returns.
const (
	statusOK       = 0
	statusPanic    = 1
	statusEnvelope = 2
)

var (
	env Envelope
	out []byte
)

const errEnvelope = "hubd: malformed envelope"

// dispatch runs the handler of hook id on the envelope JSON buf[:n]
// (followed by the host's index, if any). A non-zero status is a failure
// whose message has been emitted.
func dispatch(id uint32, buf []byte, n int) (status uint32) {
	fn := handlers[0]
	if int(id) < len(handlers) {
		fn = handlers[id]
	}
	if fn == nil {
		return statusOK
	}
	if !env.reset(wire.HookIDs[id], buf, n) {
		emit([]byte(errEnvelope))
		return statusEnvelope
	}
	defer func() {
		if r := recover(); r != nil {
			emit([]byte("panic: " + panicMessage(r)))
			status = statusPanic
		}
	}()
	d := fn(&env)
	if !d.IsZero() {
		out = d.AppendJSON(out[:0])
		emit(out)
	}
	return statusOK
}

// Level is a log level.
type Level int32

// The log levels of hubd.log.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// Log writes a line to the plugin's logger (tagged with the hook and the
// socket). The host rate-limits plugin logs.
func Log(level Level, msg string) { hostLogString(level, msg) }

// Debug logs at debug level.
func Debug(msg string) { Log(LevelDebug, msg) }

// Info logs at info level.
func Info(msg string) { Log(LevelInfo, msg) }

// Warn logs at warn level.
func Warn(msg string) { Log(LevelWarn, msg) }

// Error logs at error level.
func Error(msg string) { Log(LevelError, msg) }

var (
	config       Raw
	configLoaded bool
)

// Config returns the manifest's "config" value as JSON (empty if none).
// It is read from the host once.
func Config() Raw {
	if !configLoaded {
		config = readConfig()
		configLoaded = true
	}
	return config
}

// Now returns the host's wall clock.
func Now() time.Time { return time.Unix(0, nowNs()) }

// Attachment returns binary attachment i of the event (the placeholder
// {"_placeholder":true,"num":i} in Args); ok is false if there is none.
func Attachment(i int) (b []byte, ok bool) {
	if i < 0 {
		return nil, false
	}
	return attachment(uint32(i))
}

func panicMessage(r any) string {
	switch v := r.(type) {
	case string:
		return v
	case error:
		return v.Error()
	case interface{ String() string }:
		return v.String()
	}
	return "(a value that is neither a string nor an error)"
}
