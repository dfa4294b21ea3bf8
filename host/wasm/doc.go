// Package wasm is hubd's WebAssembly plugin runtime, built on wazero.
//
// A plugin is a Wasm module that follows the hubd_v1 ABI described in
// sdk/wasm/ABI.md: it exports hubd_abi_v1 (a marker), hubd_buffer and
// hubd_handle, and answers through the import hubd.output. Guests can be
// written in any language that compiles to Wasm; sdk/wasm/go is the Go
// guest SDK (GOOS=wasip1, -buildmode=c-shared) and sdk/wasm/c a C header.
//
// Register the runtime with a host:
//
//	h := host.New(logger)
//	h.Register("wasm", wasm.New())
//
// # How a plugin runs
//
// Load compiles the module once, through a compilation cache shared by
// every plugin of the Runtime (on disk under os.UserCacheDir()/hubd/wazero
// by default, so a restart does not recompile), then instantiates
// Manifest.PoolSize instances up front: instantiating a Go guest takes
// milliseconds, so it never happens on the call path. Each call takes a
// free instance, writes the envelope JSON (Envelope.AppendJSON) and an
// index of its fields straight into the guest's buffer, calls hubd_handle
// with CallWithStack and a reused stack, copies the decision out (parsed
// without reflection; anything unusual goes to host.ParseDecision) and puts
// the instance back.
//
// # Limits
//
//   - Memory: Manifest.MaxMemoryPages caps each instance's linear memory
//     (WithMemoryLimitPages). A guest that needs more traps.
//   - Time: each call's deadline (ctx.Deadline, else Manifest.Timeout) is
//     enforced by one watchdog goroutine per Runtime; a call only stores
//     its deadline in its instance. Load rewrites the module (instrument)
//     so that every loop head counts down a fuel global and, every 4096
//     iterations, steps out to the host (memory.grow 0) and checks an
//     interrupt global that the watchdog sets for a call past its
//     deadline; the call then traps. Stepping out matters too: native code
//     cannot be preempted, so a looping guest would otherwise hold off the
//     process's garbage collections, and with them every goroutine.
//     The check costs a load, a store and a branch per iteration. wazero's
//     own mechanism, WithCloseOnContextDone, leaves the native code at
//     every iteration and starts a goroutine per call (a realistic event
//     call: 5.5 µs instead of 1.8 µs); it is the fallback for modules the
//     rewriter does not understand, and WithTermination(CloseOnDone)
//     forces it.
//   - Loading: every call into a guest has a deadline, at load time too.
//     An instance's _initialize, first hubd_buffer and (for the first)
//     hubd_hooks share one, DefaultLoadTimeout (WithLoadTimeout) or the
//     load's context deadline if sooner; a guest that runs past it fails
//     to load with an error wrapping host.ErrTimeout that names the export,
//     so a directory reload keeps the old version. The load's context
//     ending stops it too. Instantiating runs no guest code, since a
//     module with a start function is refused.
//   - Output: a decision larger than 1 MiB is garbage (host.ErrGarbage).
//
// An instance that trapped, timed out or ran out of memory is discarded and
// a new one is instantiated in the background; the call that failed
// returns an error (host.ErrTimeout for a timeout) with the trap's message,
// and the host's failure policy decides. The next call gets another
// instance. Instances are also replaced after DefaultRecycleAfter calls.
//
// # Sandbox
//
// A guest gets the hubd host functions (output, log, config, now_ns,
// attachment) and WASI preview 1 with no preopened directories, no
// environment, no arguments and no sockets; its stdout and stderr go to the
// plugin's logger; clocks are real, sleeping does not block, random bytes
// come from crypto/rand. Nothing else is importable.
package wasm
