// Package policytest holds the cross-runtime conformance test of the plugin
// host: the example policy written for every runtime — JavaScript
// (examples/js/policy), Go compiled to Wasm (examples/wasm/go), C compiled
// to Wasm (examples/wasm/c) and a Go process plugin
// (examples/process/policy) — must give identical decisions on one table of
// envelopes.
package policytest
