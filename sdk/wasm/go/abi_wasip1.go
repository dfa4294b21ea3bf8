//go:build wasip1

package hubd

import "unsafe"

// The hubd_v1 imports.

//go:wasmimport hubd output
func hostOutput(ptr unsafe.Pointer, n uint32)

//go:wasmimport hubd log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

//go:wasmimport hubd config
func hostConfig(buf unsafe.Pointer, limit uint32) int32

//go:wasmimport hubd now_ns
func hostNowNs() int64

//go:wasmimport hubd attachment
func hostAttachment(index uint32, buf unsafe.Pointer, limit uint32) int32

// The hubd_v1 exports.

//go:wasmexport hubd_abi_v1
func abiV1() {}

// input is the guest-owned region the host writes envelopes into.
var input []byte

//go:wasmexport hubd_buffer
func hubdBuffer(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	if uint32(cap(input)) < size {
		input = make([]byte, max(size, 2*uint32(cap(input))))
	}
	input = input[:cap(input)]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input))))
}

//go:wasmexport hubd_handle
func hubdHandle(hook, n uint32) uint32 {
	if n > uint32(len(input)) {
		emit([]byte("hubd: input longer than the buffer"))
		return statusEnvelope
	}
	return dispatch(hook, input, int(n))
}

//go:wasmexport hubd_hooks
func hubdHooks() uint32 { return hookMask() }

func emit(b []byte) {
	if len(b) == 0 {
		hostOutput(nil, 0)
		return
	}
	hostOutput(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
}

func hostLogString(level Level, msg string) {
	hostLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

func readConfig() Raw {
	n := hostConfig(nil, 0)
	if n <= 0 {
		return nil
	}
	buf := make([]byte, n)
	if m := hostConfig(unsafe.Pointer(unsafe.SliceData(buf)), uint32(n)); m != n {
		return nil
	}
	return buf
}

func nowNs() int64 { return hostNowNs() }

func attachment(i uint32) ([]byte, bool) {
	n := hostAttachment(i, nil, 0)
	if n < 0 {
		return nil, false
	}
	buf := make([]byte, n)
	if n > 0 {
		hostAttachment(i, unsafe.Pointer(unsafe.SliceData(buf)), uint32(n))
	}
	return buf, true
}
