package js

import (
	"errors"
	"fmt"
	"slices"

	"github.com/dop251/goja"

	"github.com/hubd/hubd/host"
)

// The envelope a handler gets is a goja dynamic object: each field is
// converted from the host.Envelope the first time the script reads it and
// kept, so identity holds (env.args === env.args) and writes stick. When the
// call ends the object is detached: the fields never read are gone, so an
// envelope a script keeps can never show a later call's data.

// Envelope fields, in the order of the envelope's JSON form.
const (
	envV = iota
	envHook
	envNS
	envSocket
	envHandshake
	envRecovered
	envEvent
	envArgs
	envAck
	envRooms
	envReason
	envAttachments
	numEnvFields
)

var envNames = [numEnvFields]string{"v", "hook", "ns", "socket", "handshake", "recovered", "event", "args", "ack", "rooms", "reason", "attachments"}

func envField(key string) int {
	switch key {
	case "v":
		return envV
	case "hook":
		return envHook
	case "ns":
		return envNS
	case "socket":
		return envSocket
	case "handshake":
		return envHandshake
	case "recovered":
		return envRecovered
	case "event":
		return envEvent
	case "args":
		return envArgs
	case "ack":
		return envAck
	case "rooms":
		return envRooms
	case "reason":
		return envReason
	case "attachments":
		return envAttachments
	}
	return -1
}

// Socket fields.
const (
	socketID = iota
	socketRooms
	socketData
	numSocketFields
)

var socketNames = [numSocketFields]string{"id", "rooms", "data"}

func socketField(key string) int {
	switch key {
	case "id":
		return socketID
	case "rooms":
		return socketRooms
	case "data":
		return socketData
	}
	return -1
}

// fieldState tells a lazy field apart from one that is set or gone.
type fieldState uint8

const (
	fieldLazy fieldState = iota
	fieldSet
	fieldGone
)

// lazyFields is what the envelope and its socket object tell lazyObject
// about their fixed fields.
type lazyFields interface {
	field(key string) int // the field's index, or -1
	fieldName(i int) string
	present(i int) bool    // whether a lazy field exists
	make(i int) goja.Value // converts a lazy field (nil: it does not exist)
	// states are the fields' states; value and setValue get and set the
	// value of a field whose state is fieldSet.
	states() []fieldState
	value(i int) goja.Value
	setValue(i int, v goja.Value)
}

// lazyObject is the goja.DynamicObject behaviour the envelope and its
// socket share: fixed fields converted on first read, then kept (or
// overwritten, or deleted, by the script), plus whatever the script adds.
// The fixed fields' values and states are kept by the owning object
// (lazyFields), so that the envelope made for every call stays small.
type lazyObject struct {
	extra *extraProps
}

func (o *lazyObject) get(f lazyFields, key string) goja.Value {
	i := f.field(key)
	if i < 0 {
		return o.extra.get(key)
	}
	state := f.states()
	switch state[i] {
	case fieldSet:
		return f.value(i)
	case fieldGone:
		return nil
	}
	v := f.make(i)
	if v == nil {
		state[i] = fieldGone
	} else {
		f.setValue(i, v)
		state[i] = fieldSet
	}
	return v
}

func (o *lazyObject) set(f lazyFields, key string, v goja.Value) bool {
	if i := f.field(key); i >= 0 {
		f.setValue(i, v)
		f.states()[i] = fieldSet
		return true
	}
	if o.extra == nil {
		o.extra = &extraProps{vals: make(map[string]goja.Value)}
	}
	o.extra.set(key, v)
	return true
}

func (o *lazyObject) has(f lazyFields, key string) bool {
	i := f.field(key)
	if i < 0 {
		return o.extra.get(key) != nil
	}
	switch f.states()[i] {
	case fieldSet:
		return true
	case fieldGone:
		return false
	}
	return f.present(i)
}

func (o *lazyObject) del(f lazyFields, key string) bool {
	if i := f.field(key); i >= 0 {
		if f.states()[i] == fieldSet {
			f.setValue(i, nil)
		}
		f.states()[i] = fieldGone
		return true
	}
	o.extra.delete(key)
	return true
}

func (o *lazyObject) keys(f lazyFields) []string {
	var keys []string
	state := f.states()
	for i := range state {
		if state[i] == fieldSet || state[i] == fieldLazy && f.present(i) {
			keys = append(keys, f.fieldName(i))
		}
	}
	return o.extra.appendKeys(keys)
}

// extraProps holds properties a script adds, in insertion order.
type extraProps struct {
	keys []string
	vals map[string]goja.Value
}

func (x *extraProps) get(k string) goja.Value {
	if x == nil {
		return nil
	}
	return x.vals[k]
}

func (x *extraProps) set(k string, v goja.Value) {
	if _, ok := x.vals[k]; !ok {
		x.keys = append(x.keys, k)
	}
	x.vals[k] = v
}

func (x *extraProps) delete(k string) {
	if x == nil {
		return
	}
	if _, ok := x.vals[k]; ok {
		delete(x.vals, k)
		x.keys = slices.DeleteFunc(x.keys, func(s string) bool { return s == k })
	}
}

func (x *extraProps) appendKeys(dst []string) []string {
	if x == nil {
		return dst
	}
	return append(dst, x.keys...)
}

// envObject is the envelope as the script sees it (goja.DynamicObject).
type envObject struct {
	lazyObject
	in     *instance
	env    *host.Envelope // nil once detached
	socket *socketObject
	hi     uint8 // the hook's index (hookNames)

	state [numEnvFields]fieldState
	// at[i]-1 is where field i's value is in vals, once it has been set:
	// a handler reads a few of the twelve fields, so the values made are
	// listed rather than kept in an array of twelve.
	at    [numEnvFields]uint8
	vals  []goja.Value
	small [3]goja.Value
	args  argsArray // backs env.args once read: one allocation less
}

func newEnvelope(in *instance, env *host.Envelope, hi int) *envObject {
	return &envObject{in: in, env: env, hi: uint8(hi)}
}

// detach ends the object's view of the host envelope.
func (o *envObject) detach() {
	o.env = nil
	if o.socket != nil {
		o.socket.env = nil
	}
}

// present reports whether a lazy field exists.
func (o *envObject) present(i int) bool {
	e := o.env
	if e == nil {
		return false
	}
	switch i {
	case envHandshake:
		return e.Handshake != nil
	case envRecovered:
		return e.Recovered
	case envEvent:
		return e.Event != ""
	case envArgs:
		return len(e.Args) > 0
	case envAck:
		return e.Ack
	case envRooms:
		return e.Rooms != nil
	case envReason:
		return e.Reason != ""
	case envAttachments:
		return len(e.Attachments) > 0
	}
	return true
}

// make converts field i from the host envelope (nil if absent).
func (o *envObject) make(i int) goja.Value {
	if !o.present(i) {
		return nil
	}
	in, e := o.in, o.env
	switch i {
	case envV:
		return in.one
	case envHook:
		return in.hookNames[o.hi]
	case envNS:
		return in.rt.ToValue(e.Namespace)
	case envSocket:
		o.socket = newSocketObject(in, e)
		return in.rt.NewDynamicObject(o.socket)
	case envHandshake:
		return in.handshake(e.Handshake)
	case envRecovered:
		return in.trueValue
	case envEvent:
		return in.eventName(e.Event)
	case envArgs:
		return in.lazyArgs(&o.args, e.Args)
	case envAck:
		return in.trueValue
	case envRooms:
		return in.strings(e.Rooms)
	case envReason:
		return in.rt.ToValue(e.Reason)
	case envAttachments:
		items := make([]goja.Value, len(e.Attachments))
		for j, b := range e.Attachments {
			items[j] = in.rt.ToValue(in.rt.NewArrayBuffer(slices.Clone(b)))
		}
		return in.newArray(items)
	}
	return nil
}

func (o *envObject) Get(key string) goja.Value         { return o.get(o, key) }
func (o *envObject) Set(key string, v goja.Value) bool { return o.set(o, key, v) }
func (o *envObject) Has(key string) bool               { return o.has(o, key) }
func (o *envObject) Delete(key string) bool            { return o.del(o, key) }
func (o *envObject) Keys() []string                    { return o.keys(o) }

func (o *envObject) field(key string) int   { return envField(key) }
func (o *envObject) fieldName(i int) string { return envNames[i] }
func (o *envObject) states() []fieldState   { return o.state[:] }
func (o *envObject) value(i int) goja.Value { return o.vals[o.at[i]-1] }
func (o *envObject) setValue(i int, v goja.Value) {
	if o.at[i] > 0 {
		o.vals[o.at[i]-1] = v
		return
	}
	if o.vals == nil {
		o.vals = o.small[:0]
	}
	o.vals = append(o.vals, v)
	o.at[i] = uint8(len(o.vals))
}

type socketObject struct {
	lazyObject
	in  *instance
	env *host.Envelope // nil once detached

	valArray   [numSocketFields]goja.Value
	stateArray [numSocketFields]fieldState
}

func newSocketObject(in *instance, env *host.Envelope) *socketObject {
	return &socketObject{in: in, env: env}
}

func (o *socketObject) present(i int) bool {
	if o.env == nil {
		return false
	}
	if i == socketData {
		return len(o.env.Socket.Data) > 0
	}
	return true
}

func (o *socketObject) make(i int) goja.Value {
	if !o.present(i) {
		return nil
	}
	s := &o.env.Socket
	switch i {
	case socketID:
		return o.in.rt.ToValue(s.ID)
	case socketRooms:
		return o.in.strings(s.Rooms)
	case socketData:
		return o.in.parseInput(s.Data, "socket data")
	}
	return nil
}

func (o *socketObject) Get(key string) goja.Value         { return o.get(o, key) }
func (o *socketObject) Set(key string, v goja.Value) bool { return o.set(o, key, v) }
func (o *socketObject) Has(key string) bool               { return o.has(o, key) }
func (o *socketObject) Delete(key string) bool            { return o.del(o, key) }
func (o *socketObject) Keys() []string                    { return o.keys(o) }

func (o *socketObject) field(key string) int         { return socketField(key) }
func (o *socketObject) fieldName(i int) string       { return socketNames[i] }
func (o *socketObject) states() []fieldState         { return o.stateArray[:] }
func (o *socketObject) value(i int) goja.Value       { return o.valArray[i] }
func (o *socketObject) setValue(i int, v goja.Value) { o.valArray[i] = v }

// eventName returns the event's name as a JS string, the previous call's
// value when the name is the same (most events of a socket have a few
// names; JS strings are immutable, so sharing one is invisible).
func (in *instance) eventName(name string) goja.Value {
	if in.lastEvent.v == nil || in.lastEvent.name != name {
		in.lastEvent.name, in.lastEvent.v = name, in.rt.ToValue(name)
	}
	return in.lastEvent.v
}

// strings makes a JS array of strings.
func (in *instance) strings(ss []string) goja.Value {
	items := make([]goja.Value, len(ss))
	for i, s := range ss {
		items[i] = in.rt.ToValue(s)
	}
	return in.newArray(items)
}

// handshake makes env.handshake: {auth, query, headers, address}.
func (in *instance) handshake(h *host.Handshake) goja.Value {
	obj := in.rt.NewObject()
	var auth goja.Value
	if len(h.Auth) > 0 {
		auth = in.parseInput(h.Auth, "handshake auth")
	} else {
		auth = in.rt.NewObject()
	}
	in.define(obj, "auth", auth)
	in.define(obj, "query", in.stringMap(h.Query))
	in.define(obj, "headers", in.stringMap(h.Headers))
	in.define(obj, "address", in.rt.ToValue(h.Address))
	return obj
}

func (in *instance) stringMap(m map[string]string) goja.Value {
	obj := in.rt.NewObject()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		in.define(obj, k, in.rt.ToValue(m[k]))
	}
	return obj
}

// define sets an own data property, as JSON.parse does (a "__proto__" key
// is a property, not the prototype).
func (in *instance) define(obj *goja.Object, k string, v goja.Value) {
	if err := obj.DefineDataProperty(k, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
		panic(err)
	}
}

// parseInput parses raw JSON from the envelope; bad JSON throws in the
// script.
func (in *instance) parseInput(raw []byte, what string) goja.Value {
	v, err := in.dec.parse(raw)
	if errors.Is(err, ErrMemoryLimit) {
		in.throwRangeMsg(fmt.Sprintf("hubd: the envelope's %s cannot be read: %v", what, err))
	}
	if err != nil {
		panic(in.rt.NewTypeError("hubd: invalid JSON in the envelope's %s: %v", what, err))
	}
	return v
}

// inputSize returns the size of env's JSON form plus its attachments, or a
// lower bound of it once that passes limit.
func inputSize(env *host.Envelope, limit int) int {
	n := 64 + len(env.Hook) + len(env.Namespace) + len(env.Socket.ID) + len(env.Socket.Data) +
		len(env.Event) + len(env.Args) + len(env.Reason)
	for _, r := range env.Socket.Rooms {
		n += len(r) + 3
	}
	for _, r := range env.Rooms {
		n += len(r) + 3
	}
	if h := env.Handshake; h != nil {
		n += 64 + len(h.Auth) + len(h.Address)
		for k, v := range h.Query {
			n += len(k) + len(v) + 6
		}
		for k, v := range h.Headers {
			n += len(k) + len(v) + 6
		}
	}
	for _, a := range env.Attachments {
		n += len(a)
	}
	// Escaping grows a string at most six times; count exactly when that
	// could cross the limit.
	if n > limit/6 && n <= limit {
		n = len(env.AppendJSON(nil))
		for _, a := range env.Attachments {
			n += len(a)
		}
	}
	return n
}
