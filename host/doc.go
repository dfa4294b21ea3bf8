// Package host is hubd's plugin host: it hands the moments of a socket's
// life — connect, join, leave, event, disconnect — to plugins, and turns
// their decisions into what the hub does.
//
// Every runtime (JavaScript in host/js, WebAssembly in host/wasm, separate
// processes in host/process) sees the same Envelope and answers with the
// same Decision; sdk/schema documents both as the plugin authors' contract.
// Plugins run as a chain per hook, ordered by priority then name, each
// scoped by its manifest to hooks, namespaces and event names; the first
// deny, drop, reply or disconnect ends the chain. A hook or event that no
// plugin subscribes to costs a table lookup.
//
// Every decision the hooks take is recorded in its socket's decision
// trace — the plugins consulted, what each said, what it changed — kept
// in a bounded ring per socket and for a while after the socket closes
// (Host.Trace, Host.SetTrace).
//
// Host.Hooks returns the hub.Hooks to install on a hub.Server; the chain
// table behind them is swapped atomically when plugins are loaded again,
// so no connection notices a reload. To run Go hooks of one's own beside
// the plugins', compose the sets with hub.ChainHooks:
//
//	srv.SetHooks(hub.ChainHooks(myHooks, h.Hooks()))
package host
