// The connect hook of TestConnectHookSeesRecovery (host/recovery_test.go),
// as every runtime's version of it does: refuse a recovered socket whose
// auth asks for it; otherwise attach what the hook saw — whether the socket
// is recovered, and its data — and, on a fresh socket only, "fresh".
hubd.on("connect", (env) => {
  if (env.recovered && env.handshake.auth.refuse === true) {
    return { action: "deny", reason: "recovery refused" };
  }
  const data = { recovered: env.recovered === true, prev: env.socket.data === undefined ? null : env.socket.data };
  if (!env.recovered) data.fresh = true;
  return { socket_data: data };
});
