// Package js runs hubd plugins written in JavaScript, on goja.
//
// A plugin is a script (not an ES module; bundle npm code to an IIFE with
// esbuild). While it loads it registers handlers with
// hubd.on("connect"|"join"|"leave"|"event"|"disconnect", fn), or defines
// top-level functions onConnect, onJoin, onLeave, onEvent, onDisconnect. A
// handler gets the envelope as an object and returns a decision object, or
// nothing to allow the call unchanged. sdk/js/hubd.d.ts declares both.
//
// The script sees standard ECMAScript and three host objects: hubd.on,
// hubd.config (the manifest's config, deep-frozen) and hubd.log with
// console.* (to the plugin's logger, capped per call). There is no require,
// no timers and no I/O.
//
// # How a call runs
//
// The script is compiled once per plugin. A pool of Manifest.PoolSize goja
// runtimes (default min(NumCPU, 8)) each ran it once when created; a call
// takes a runtime, runs the handler and gives the runtime back. A call that
// finds every runtime busy waits until its deadline.
//
// The envelope is built lazily: it is a dynamic object whose fields are
// converted from the host.Envelope when the handler first reads them, so a
// handler that reads the event name and the first argument pays only for
// those. It is fresh for every call and detached when the call ends:
// fields not read during the call read as undefined afterwards, so a script
// that keeps an envelope in a global can never see another socket's data
// through it. Plugins must be stateless per call; per-socket state belongs
// in socket_data. Arguments and socket data are parsed from the raw JSON
// into ordinary JS values; binary values stay as Socket.IO placeholder
// objects in args and their bytes are copies in env.attachments
// (ArrayBuffers).
//
// # Limits
//
// The deadline of a call (ctx.Deadline, or the manifest timeout) is
// enforced by one watchdog goroutine per plugin that ticks only while calls
// are in flight and interrupts runtimes past their deadline; the call
// returns host.ErrTimeout and the runtime is replaced in the background (a
// fresh runtime also frees whatever a runaway loop piled up). goja cannot
// cap memory: the time limit bounds how much a handler can allocate, and a
// native built-in (such as "x".repeat(1e9)) cannot be interrupted at all, so
// JavaScript plugins are for trusted operators' scripts (untrusted code
// belongs in the Wasm runtime). Inputs over Runtime.MaxInputBytes
// (envelope JSON plus attachments) are refused; decisions over
// Runtime.MaxOutputBytes, of the wrong shape or with an unknown action are
// host.ErrGarbage. Recursion is capped, and log output per call is capped.
//
// # Why
//
// A dynamic envelope instead of building goja objects: every goja object
// or array costs a Go map and about half a kilobyte, and handlers read few
// fields; building the whole envelope (or going through JSON.parse) would
// cost more than the handler itself. Decisions are read field by field and
// their JSON values are written by our own encoder, which bounds the output
// as it goes (JSON.stringify would first build an arbitrarily large string,
// for instance from an array that references itself many times).
package js
