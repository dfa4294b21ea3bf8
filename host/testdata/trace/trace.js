// The policy of TestDecisionTraces (host/trace_e2e_test.go), as every
// runtime's version of it does, so that each gives the same trace:
//   - connect: refuse a client without a string auth.token ("token
//     required", data {code: 401}); attach {user: <token>} to the others;
//   - join: refuse any room whose name starts with "private:";
//   - event "shout": wrap the first argument as [{shout: <it>}] and route
//     the event to room "lobby"; event "secret": refuse it ("no secrets").
hubd.on("connect", (env) => {
  const token = env.handshake.auth.token;
  if (typeof token !== "string") return { action: "deny", reason: "token required", data: { code: 401 } };
  return { socket_data: { user: token } };
});
hubd.on("join", (env) => {
  if (env.rooms.some((r) => r.startsWith("private:"))) return { action: "deny", reason: "private room" };
});
hubd.on("event", (env) => {
  if (env.event === "shout") return { args: [{ shout: env.args[0] }], rooms: ["lobby"] };
  if (env.event === "secret") return { action: "deny", reason: "no secrets" };
});
