// The plugin of the revocation tests (host/revoke_e2e_test.go): grants
// that the test revokes by reloading the plugin with a new config.
//   - connect: the client's auth.user becomes socket data {user: {sub}}
//     (and auth.group, {group}, when given);
//     a user listed in config.banned is refused.
//   - join: a room listed in config.denied as "<user>:<room>" is refused
//     to that user.
//   - event "kick": asks the host to revoke (hubd.revoke) the connect
//     grant of the user named by the argument, or the revocation the
//     argument is when it is an object; the ack is {ok} or {ok, error}.
"use strict";
const banned = hubd.config.banned || [];
const denied = hubd.config.denied || [];

hubd.on("connect", (env) => {
  const sub = env.handshake.auth.user;
  if (typeof sub !== "string") return { action: "deny", reason: "user required" };
  if (banned.includes(sub)) return { action: "deny", reason: "banned" };
  return { socket_data: { user: { sub }, group: env.handshake.auth.group } };
});

hubd.on("join", (env) => {
  const sub = env.socket.data && env.socket.data.user && env.socket.data.user.sub;
  for (const room of env.rooms) {
    if (denied.includes(sub + ":" + room)) return { action: "deny", reason: "no grant for " + room };
  }
});

hubd.on("event", (env) => {
  if (env.event !== "kick") return;
  const arg = env.args[0];
  const revocation = typeof arg === "string" ? { data: { path: "user.sub", equals: arg }, recheck: "connect" } : arg;
  try {
    hubd.revoke(revocation);
    return { action: "reply", reply: [{ ok: true }] };
  } catch (e) {
    return { action: "reply", reply: [{ ok: false, error: e.message }] };
  }
});
