// Package process is hubd's runtime for process plugins: executables that
// speak the gRPC service of sdk/proto/hubd/v1 through hashicorp/go-plugin,
// usually written with the Go SDK in sdk/process.
//
// Load starts the executable and asks it (Describe) which hooks and events
// it handles; hubd answers the others itself, allowing them unchanged,
// without a round trip. Every other call is one unary gRPC call carrying
// the envelope's JSON as host.Envelope writes it and returning the
// decision's JSON, bounded by the call's deadline, by a cap on the calls in
// flight and by a cap on the decision's size. Hooks the plugin only
// observes go over a stream, in batches, without waiting.
//
// After Describe, the runtime binds the process (Bind): a plugin granted
// the "revoke" capability is served the Host service over go-plugin's
// broker, whose Revoke hands the revocation to host.Spec.Revoke and keeps
// the kind of its error in the status code (PermissionDenied,
// InvalidArgument, ResourceExhausted); other plugins are told there is
// nothing to call. Each process start has its own server, stopped with
// the process. A plugin built before Bind answers Unimplemented and loads
// all the same.
//
// A process that exits — crash, panic, kill — fails the calls in flight
// (the manifest's on_error applies) and is started again after a delay
// that doubles from RestartMin to RestartMax while it keeps dying young.
// Until it is back, calls fail at once with ErrUnavailable. Close stops the
// process after the calls in flight are done or have timed out.
//
// The process is not sandboxed beyond its own address space: it gets no
// environment from hubd (unless the manifest grants the "env" capability)
// and dies with hubd (Linux), but it can reach files and the network as
// the user hubd runs as. Use the Wasm runtime for untrusted code.
//
// Why it is built so:
//
//   - JSON inside protobuf bytes, not a protobuf schema of the envelope:
//     every runtime sees the same bytes (host.Envelope.AppendJSON), event
//     arguments are never re-encoded, and the decision is checked by the
//     one parser every runtime uses (host.ParseDecision). Protobuf only
//     frames the call, which go-plugin's gRPC mode requires anyway.
//   - hubd supervises the process itself: go-plugin restarts nothing, and
//     tells nobody when a process exits, so the runtime starts the process
//     through its own runner (procRunner), whose Wait closes a channel.
//   - Calls fail at once while the process is down rather than wait for
//     it: the failure policy and the chain's circuit breaker then decide,
//     and no socket waits on a restart.
//   - The clients are not go-plugin "managed": go-plugin keeps every
//     managed client for ever, so a plugin that keeps crashing would leak
//     one per restart.
//   - The gRPC deadline is the call's: the plugin's handlers see it as
//     their ctx's, and hubd does not wait past it.
//   - The plugin calls hubd on a service of its own through the broker,
//     not on a stream hubd keeps open to it: gRPC then carries each call's
//     deadline, cancellation and status code as it does hubd's calls, and
//     a plugin that may call nothing costs no server and no socket.
package process
