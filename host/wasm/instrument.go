package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
)

// interruptExport is the name under which instrument exports the
// interrupt global. A guest may not export that name itself.
const interruptExport = "hubd$interrupt"

// fuelPeriod is how many loop iterations run between two exits to the host
// (see instrument).
const fuelPeriod = 4096

// instrument rewrites a Wasm binary so that a running call can be stopped
// cheaply. It adds two mutable i32 globals, an interrupt flag (exported as
// interruptExport) and a fuel counter, and at the head of every loop the
// check
//
//	if fuel == 0 {
//	    fuel = fuelPeriod
//	    memory.grow 0          ;; a no-op that exits to the host
//	    if interrupt { unreachable }
//	} else {
//	    fuel--
//	}
//
// A loop is the only way for Wasm code to run without bound (calls without
// loops overflow the stack; tail calls, which could recurse forever, are
// refused), so a call the watchdog flags traps within fuelPeriod loop
// iterations.
//
// The exit matters as much as the flag: native code cannot be preempted by
// the Go runtime, so a guest looping without ever returning to Go would
// hold off every stop-the-world of the process (a garbage collection would
// wait for it, with all goroutines, the watchdog included). memory.grow 0
// leaves the native code for Go, where the goroutine can be stopped, every
// fuelPeriod iterations (microseconds). The fast path costs a load, a
// store and a branch per iteration, where wazero's WithCloseOnContextDone
// leaves the native code for Go at every iteration and starts a goroutine
// per call.
//
// Custom sections holding DWARF (.debug_*) are dropped, since the code
// offsets they describe move. Anything the rewriter does not understand
// (an opcode of a proposal it does not know, tail calls, threads, a module
// without memory, a malformed binary) is an error; the caller then falls
// back to WithCloseOnContextDone.
func instrument(bin []byte) ([]byte, error) {
	r := &reader{b: bin}
	if len(bin) < 8 || !bytes.Equal(bin[:4], []byte("\x00asm")) {
		return nil, errors.New("not a WebAssembly binary")
	}
	if !bytes.Equal(bin[4:8], []byte{1, 0, 0, 0}) {
		return nil, errors.New("unsupported WebAssembly binary version")
	}
	r.off = 8

	type section struct {
		id   byte
		body []byte
	}
	var sections []section
	for r.off < len(bin) {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			return nil, r.err
		}
		if uint64(r.off)+uint64(size) > uint64(len(bin)) {
			return nil, errors.New("section runs past the end of the binary")
		}
		sections = append(sections, section{id, bin[r.off : r.off+int(size)]})
		r.off += int(size)
	}

	var importedGlobals, definedGlobals, memories uint32
	hasGlobal, hasExport := false, false
	for _, s := range sections {
		switch s.id {
		case 2:
			g, m, err := countImports(s.body)
			if err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			importedGlobals, memories = g, memories+m
		case 5:
			sr := &reader{b: s.body}
			memories += sr.u32()
			if sr.err != nil {
				return nil, sr.err
			}
		case 6:
			hasGlobal = true
			sr := &reader{b: s.body}
			definedGlobals = sr.u32()
			if sr.err != nil {
				return nil, sr.err
			}
		case 7:
			hasExport = true
			if err := checkExports(s.body); err != nil {
				return nil, err
			}
		case 0, 1, 3, 4, 8, 9, 10, 11, 12, 13:
		default:
			return nil, fmt.Errorf("unknown section id %d", s.id)
		}
	}
	if memories == 0 {
		return nil, errors.New("the module has no memory")
	}
	total := uint64(importedGlobals) + uint64(definedGlobals)
	if total+2 >= math.MaxUint32 {
		return nil, errors.New("too many globals")
	}
	gidx := uint32(total) // the interrupt flag; gidx+1 is the fuel

	out := make([]byte, 0, len(bin)+len(bin)/8+64)
	out = append(out, bin[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	// mut i32 interrupt = 0; mut i32 fuel = fuelPeriod
	newGlobals := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b, 0x7f, 0x01, 0x41}
	newGlobals = appendS32(newGlobals, fuelPeriod)
	newGlobals = append(newGlobals, 0x0b)
	newExport := appendName(nil, interruptExport)
	newExport = append(newExport, 0x03)
	newExport = appendU32(newExport, gidx)

	// rank orders the known sections as the binary format requires.
	rank := func(id byte) int {
		switch id {
		case 13:
			return 55 // tag: between memory and global
		case 12:
			return 95 // data count: between element and code
		}
		return int(id) * 10
	}
	emitMissing := func(before byte) {
		if !hasGlobal && rank(before) > rank(6) {
			emit(6, append([]byte{2}, newGlobals...))
			hasGlobal = true
		}
		if !hasExport && rank(before) > rank(7) {
			emit(7, appendVecItems(nil, 1, newExport))
			hasExport = true
		}
	}
	for _, s := range sections {
		if s.id != 0 {
			emitMissing(s.id)
		}
		switch s.id {
		case 0:
			nr := &reader{b: s.body}
			name := nr.name()
			if nr.err != nil {
				return nil, fmt.Errorf("custom section: %w", nr.err)
			}
			if strings.HasPrefix(name, ".debug_") || name == "sourceMappingURL" || name == "external_debug_info" {
				continue
			}
			emit(0, s.body)
		case 6:
			emit(6, appendVecItems(s.body, 2, newGlobals))
		case 7:
			emit(7, appendVecItems(s.body, 1, newExport))
		case 10:
			body, err := instrumentCode(s.body, gidx)
			if err != nil {
				return nil, fmt.Errorf("code section: %w", err)
			}
			emit(10, body)
		default:
			emit(s.id, s.body)
		}
	}
	emitMissing(0xff) // ranks after every section
	return out, nil
}

// appendVecItems appends n items (encoded in items) to a vector's encoding
// (count, then items); a nil vec is the empty vector.
func appendVecItems(vec []byte, n uint32, items []byte) []byte {
	var count uint32
	r := &reader{b: vec}
	if vec != nil {
		count = r.u32()
	}
	out := appendU32(make([]byte, 0, len(vec)+len(items)+5), count+n)
	out = append(out, vec[r.off:]...)
	return append(out, items...)
}

// countImports returns the numbers of imported globals and memories.
func countImports(b []byte) (globals, memories uint32, err error) {
	r := &reader{b: b}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // function
			r.u32()
		case 0x01: // table
			r.byte() // reftype
			r.limits()
		case 0x02: // memory
			r.limits()
			memories++
		case 0x03: // global
			r.byte()
			r.byte()
			globals++
		case 0x04: // tag
			r.byte()
			r.u32()
		default:
			return 0, 0, fmt.Errorf("unknown import kind %#x", kind)
		}
	}
	if r.err == nil && r.off != len(b) {
		return 0, 0, errors.New("trailing bytes")
	}
	return globals, memories, r.err
}

func checkExports(b []byte) error {
	r := &reader{b: b}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if r.name() == interruptExport {
			return fmt.Errorf("the module exports the reserved name %q", interruptExport)
		}
		r.byte()
		r.u32()
	}
	return r.err
}

// instrumentCode rewrites the code section: a check after every loop
// opcode; global references are checked to lie below gidx.
func instrumentCode(b []byte, gidx uint32) ([]byte, error) {
	r := &reader{b: b}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	intr, fuel := appendU32(nil, gidx), appendU32(nil, gidx+1)
	var check []byte
	check = append(append(append(check, 0x23), fuel...), 0x45, 0x04, 0x40) // if fuel == 0
	check = appendS32(append(check, 0x41), fuelPeriod)                     //   i32.const period
	check = append(append(check, 0x24), fuel...)                           //   global.set fuel
	check = append(check, 0x41, 0x00, 0x40, 0x00, 0x1a)                    //   memory.grow 0; drop
	check = append(append(check, 0x23), intr...)                           //   global.get interrupt
	check = append(check, 0x04, 0x40, 0x00, 0x0b)                          //   if unreachable end
	check = append(check, 0x05)                                            // else
	check = append(append(check, 0x23), fuel...)                           //   global.get fuel
	check = append(check, 0x41, 0x01, 0x6b)                                //   i32.const 1; i32.sub
	check = append(append(check, 0x24), fuel...)                           //   global.set fuel
	check = append(check, 0x0b)                                            // end

	out := appendU32(make([]byte, 0, len(b)+len(b)/8), n)
	var fn []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		if r.err != nil {
			return nil, r.err
		}
		if uint64(r.off)+uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("function %d runs past the section", i)
		}
		body := b[r.off : r.off+int(size)]
		r.off += int(size)
		var err error
		fn, err = instrumentFunc(fn[:0], body, check, gidx)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(fn)))
		out = append(out, fn...)
	}
	if r.off != len(b) {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

func instrumentFunc(out, body, check []byte, gidx uint32) ([]byte, error) {
	r := &reader{b: body}
	groups := r.u32()
	for i := uint32(0); i < groups && r.err == nil; i++ {
		r.u32()
		r.valtype()
	}
	if r.err != nil {
		return nil, r.err
	}
	out = append(out, body[:r.off]...)
	depth := 0
	for r.off < len(body) {
		start := r.off
		op := r.byte()
		switch {
		case op == 0x03: // loop
			r.blocktype()
			depth++
			if r.err != nil {
				return nil, r.err
			}
			out = append(out, body[start:r.off]...)
			out = append(out, check...)
			continue
		case op == 0x0b: // end
			if depth == 0 {
				if r.off != len(body) {
					return nil, errors.New("code after the function's end")
				}
				return append(out, body[start:r.off]...), nil
			}
			depth--
		case op == 0x23 || op == 0x24: // global.get, global.set
			if idx := r.u32(); r.err == nil && idx >= gidx {
				return nil, fmt.Errorf("global index %d out of range", idx)
			}
		default:
			d, err := r.skipInstr(op)
			if err != nil {
				return nil, err
			}
			depth += d
		}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, body[start:r.off]...)
	}
	return nil, errors.New("function body has no end")
}

// skipInstr skips the immediates of op (already read) and returns how it
// changes the block depth.
func (r *reader) skipInstr(op byte) (int, error) {
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0f, op == 0x1a, op == 0x1b,
		op == 0x0a, op == 0x19, op == 0xd1,
		op >= 0x45 && op <= 0xc4:
		// no immediate
	case op == 0x02 || op == 0x04 || op == 0x06: // block, if, try
		r.blocktype()
		return 1, nil
	case op == 0x1f: // try_table
		r.blocktype()
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			switch k := r.byte(); k {
			case 0, 1:
				r.u32()
				r.u32()
			case 2, 3:
				r.u32()
			default:
				return 0, fmt.Errorf("unknown catch kind %#x", k)
			}
		}
		return 1, nil
	case op == 0x07, op == 0x08, op == 0x09, op == 0x0c, op == 0x0d, op == 0x10,
		op == 0x18, op == 0x20, op == 0x21, op == 0x22, op == 0x25, op == 0x26,
		op == 0xd2:
		r.u32()
		if op == 0x18 { // delegate ends a try
			return -1, nil
		}
	case op == 0x0e: // br_table
		n := r.u32()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.u32()
		}
	case op == 0x11: // call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.valtype()
		}
	case op >= 0x28 && op <= 0x3e:
		r.memarg()
	case op == 0x3f || op == 0x40:
		r.u32()
	case op == 0x41:
		r.sleb(32)
	case op == 0x42:
		r.sleb(64)
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op == 0xd0: // ref.null
		r.sleb(33)
	case op == 0xfc:
		switch sub := r.u32(); {
		case sub <= 7:
		case sub == 8: // memory.init
			r.u32()
			r.u32()
		case sub == 9, sub == 11, sub == 13, sub == 15, sub == 16, sub == 17:
			r.u32()
		case sub == 10, sub == 12, sub == 14:
			r.u32()
			r.u32()
		default:
			return 0, fmt.Errorf("unsupported opcode 0xfc %d", sub)
		}
	case op == 0xfd:
		switch sub := r.u32(); {
		case sub <= 11, sub == 92, sub == 93:
			r.memarg()
		case sub == 12, sub == 13:
			r.skip(16)
		case sub >= 21 && sub <= 34:
			r.skip(1)
		case sub >= 84 && sub <= 91:
			r.memarg()
			r.skip(1)
		default:
			// every other SIMD instruction has no immediate
		}
	case op == 0x12, op == 0x13, op == 0x14, op == 0x15:
		return 0, fmt.Errorf("tail calls and function references are not supported (opcode %#x)", op)
	case op == 0xfe:
		return 0, errors.New("threads are not supported")
	default:
		return 0, fmt.Errorf("unknown opcode %#x", op)
	}
	return 0, r.err
}

// reader decodes the binary format; the first error sticks.
type reader struct {
	b   []byte
	off int
	err error
}

var errEOF = errors.New("unexpected end of binary")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.off = len(r.b)
}

func (r *reader) byte() byte {
	if r.off >= len(r.b) {
		r.fail(errEOF)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) skip(n int) {
	if len(r.b)-r.off < n {
		r.fail(errEOF)
		return
	}
	r.off += n
}

func (r *reader) uleb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= bits {
			r.fail(errors.New("LEB128 too long"))
			return 0
		}
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

func (r *reader) u32() uint32 {
	v := r.uleb(32)
	if v > math.MaxUint32 {
		r.fail(errors.New("u32 out of range"))
	}
	return uint32(v)
}

func (r *reader) sleb(bits uint) {
	for shift := uint(0); ; shift += 7 {
		if shift >= bits {
			r.fail(errors.New("LEB128 too long"))
			return
		}
		c := r.byte()
		if r.err != nil || c&0x80 == 0 {
			return
		}
	}
}

func (r *reader) blocktype() { r.sleb(33) }

func (r *reader) valtype() {
	switch c := r.byte(); c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		if r.err == nil {
			r.fail(fmt.Errorf("unknown value type %#x", c))
		}
	}
}

func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.uleb(64)
}

func (r *reader) limits() {
	flags := r.byte()
	r.uleb(64)
	if flags&1 != 0 {
		r.uleb(64)
	}
}

func (r *reader) name() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if uint64(len(r.b)-r.off) < uint64(n) {
		r.fail(errEOF)
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// appendS32 appends v as a signed LEB128.
func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}
