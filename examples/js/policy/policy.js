// The example policy as a JavaScript plugin; the Wasm (Go and C) and
// process examples carry the same one, and host/policytest checks that all
// runtimes decide alike on one table of envelopes.

hubd.on("connect", (env) => {
  const auth = env.handshake.auth;
  const token = auth && typeof auth.token === "string" ? auth.token : "";
  if (token === "") {
    return { action: "deny", reason: "token required" };
  }
  return { socket_data: { user: token } };
});

hubd.on("join", (env) => {
  for (const room of env.rooms) {
    if (room.startsWith("private:")) {
      return { action: "deny", reason: "private room" };
    }
  }
});

hubd.on("event", (env) => {
  switch (env.event) {
    case "shout":
      if (typeof env.args[0] === "string") {
        return { args: [env.args[0].toUpperCase(), ...env.args.slice(1)] };
      }
      return;
    case "ping":
      return { action: "reply", reply: ["pong"] };
    case "spam":
      return { action: "drop" };
    case "alert":
      return { rooms: ["alerts"] };
  }
});
