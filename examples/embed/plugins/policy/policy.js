// A small policy plugin, loaded by examples/embed through the plugin host
// and reloaded when this file changes. Its plugin.json gives each call up
// to 1 s rather than the 50 ms default, so that a busy machine does not
// answer for it with the failure policy (a shout left as it was).

// Refuse a connection without auth.token; keep the token as socket data.
hubd.on("connect", (env) => {
  const auth = env.handshake.auth;
  const token = auth && typeof auth.token === "string" ? auth.token : "";
  if (token === "") {
    return { action: "deny", reason: "token required" };
  }
  return { socket_data: { user: token } };
});

// Upper-case the first argument of "shout" when it is a string.
hubd.on("event", (env) => {
  if (env.event === "shout" && typeof env.args[0] === "string") {
    return { args: [env.args[0].toUpperCase(), ...env.args.slice(1)] };
  }
});
