//go:build wasip1

package hubd

import "unsafe"

//go:wasmimport hubd revoke
func hostRevoke(ptr unsafe.Pointer, n uint32) int32

func revoke(b []byte) int32 {
	if len(b) == 0 {
		return hostRevoke(nil, 0)
	}
	return hostRevoke(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
}
