// The event hook of TestBinaryReply (host/binreply_test.go), as every
// runtime's version of it does: the event "echo" is answered through its
// ack with [{echo: <its first argument>, n: <its number of arguments>}],
// a binary first argument included, and goes no further.
hubd.on("event", (env) => {
  if (env.event !== "echo") return;
  return { action: "reply", reply: [{ echo: env.args[0], n: env.args.length }] };
});
