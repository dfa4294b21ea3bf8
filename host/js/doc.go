// Package js runs hubd plugins written in JavaScript, on goja.
//
// A plugin is a script (not an ES module; bundle npm code to an IIFE with
// esbuild). While it loads it registers handlers with
// hubd.on("connect"|"join"|"leave"|"event"|"disconnect", fn), or defines
// top-level functions onConnect, onJoin, onLeave, onEvent, onDisconnect. A
// handler gets the envelope as an object and returns a decision object, or
// nothing to allow the call unchanged. sdk/js/hubd.d.ts declares both.
//
// The script sees standard ECMAScript and these host objects: hubd.on,
// hubd.config (the manifest's config, deep-frozen), hubd.log with
// console.* (to the plugin's logger, capped per call) and hubd.revoke (a
// revocation the host queues, for a plugin granted the "revoke"
// capability; see host.Host.ServeRevocations). There is no require,
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
// into ordinary JS values, each argument when the handler first reads it
// (env.args[0] costs nothing for the arguments after it); binary values stay as Socket.IO placeholder
// objects in args and their bytes are copies in env.attachments
// (ArrayBuffers).
//
// # Limits
//
// A call ends by its deadline: ctx.Deadline or the manifest timeout,
// whichever comes first. One watchdog goroutine per plugin, which ticks
// only while calls are in flight, interrupts runtimes past their deadline;
// the call returns host.ErrTimeout and the runtime is replaced in the
// background (a fresh runtime also frees whatever a runaway loop piled
// up). A call that returns after its deadline is a timeout as well. A call
// whose context is cancelled (its socket went away) is interrupted the
// same way and returns the context's error.
// Loading has its own limit, Runtime.LoadTimeout (default 5s, or the load
// context's deadline if sooner): the script's top level and the lookup of
// its handlers (getters and proxies can loop too).
//
// goja has no memory limit and its built-ins run to completion in Go,
// where no interrupt reaches them: unchecked, "x".repeat(2**40) kills the
// process with a fatal out-of-memory error. So each plugin has a memory
// limit, Manifest.MaxMemoryMiB (max_memory_mib, default
// DefaultMaxMemoryMiB = 64), and what holds is:
//
//   - Built-ins that build or visit something of a size they are given
//     check that size first and throw a RangeError past the limit:
//     String.prototype.repeat, padStart, padEnd, concat, split, replace
//     and replaceAll (a regular expression is taken to match at every
//     character); Array.prototype.join, toLocaleString, concat, flat and
//     every method that visits this.length elements (fill, indexOf, map,
//     sort, ...); Array.from, Function.prototype.apply, Reflect.apply and
//     construct, Object.fromEntries, Promise.all and its kin; ArrayBuffer,
//     the typed array constructors and typed arrays' join; Set, Map and
//     their weak kin; JSON.parse and JSON.stringify (whose output and
//     nesting are counted as it goes). A string may have MaxMemoryMiB/2 Mi characters,
//     an array built or visited by a built-in MaxMemoryMiB*4 Ki elements
//     (goja spends about 200 bytes an element), a buffer MaxMemoryMiB MiB,
//     nesting 1000 levels.
//   - What ordinary code piles up one operation at a time (s += s, a loop
//     of push) is stopped by the watchdog once the call has allocated more
//     than the limit: the call fails with an error wrapping ErrMemoryLimit.
//     Go counts allocations per process, not per goroutine, so the check
//     is the process's allocations since the watchdog first saw the call
//     (a tick, at most 5 ms, is not counted), and calls running at the same
//     time count each other's: an allocation-heavy call can stop a
//     concurrent one.
//   - Reading the envelope counts too: a megabyte of a client's JSON can
//     make a hundred megabytes of JS values, and past the limit the
//     handler gets a RangeError instead.
//   - A regular expression that needs backtracking (lookaround, a
//     backreference) is given up after 20 ms a match, and the call fails
//     as a timeout; see regexp.go for how a given-up match never passes
//     for "no match".
//
// What does not hold: the limit is on a call's allocations, not on what a
// runtime keeps in its globals between calls; and a script written to
// harm the host can still keep one core busy inside a single built-in (a
// spread of an array whose length it set to billions, String.raw of a
// crafted object, a BigInt power).
// JavaScript plugins are for operators' own scripts, which the limits
// protect from hostile input; untrusted code belongs in the Wasm runtime.
// Inputs over Runtime.MaxInputBytes (envelope JSON plus attachments) are
// refused; decisions over Runtime.MaxOutputBytes, of the wrong shape or
// with an unknown action are host.ErrGarbage. Recursion is capped, and log
// output per call is capped.
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
