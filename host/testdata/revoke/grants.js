// The plugin of the revocation tests (host/revoke_e2e_test.go): grants
// that the test revokes by reloading the plugin with a new config.
//   - connect: the client's auth.user becomes socket data {user: {sub}};
//     a user listed in config.banned is refused.
//   - join: a room listed in config.denied as "<user>:<room>" is refused
//     to that user.
"use strict";
const banned = hubd.config.banned || [];
const denied = hubd.config.denied || [];

hubd.on("connect", (env) => {
  const sub = env.handshake.auth.user;
  if (typeof sub !== "string") return { action: "deny", reason: "user required" };
  if (banned.includes(sub)) return { action: "deny", reason: "banned" };
  return { socket_data: { user: { sub } } };
});

hubd.on("join", (env) => {
  const sub = env.socket.data && env.socket.data.user && env.socket.data.user.sub;
  for (const room of env.rooms) {
    if (denied.includes(sub + ":" + room)) return { action: "deny", reason: "no grant for " + room };
  }
});
