// chat.js: the chat example's plugin. A client must connect with a name
// (auth {name}); every "chat" message it sends is rewritten to carry that
// name and the server's time, so clients cannot forge either. plugin.json
// gives a call 1 s (the default is 50 ms) so that a busy machine does not
// leave a message unstamped (the event hook fails open).

const MAX_NAME = 40;
const MAX_TEXT = 500;

hubd.on("connect", (env) => {
  const auth = env.handshake.auth;
  const name = auth && typeof auth.name === "string" ? auth.name.trim().slice(0, MAX_NAME) : "";
  if (name === "") {
    return { action: "deny", reason: "name required" };
  }
  return { socket_data: { name } };
});

hubd.on("event", (env) => {
  if (env.event !== "chat") return; // other events pass unchanged
  const msg = env.args[0];
  const text = msg && msg.text != null ? String(msg.text).slice(0, MAX_TEXT) : "";
  if (text.trim() === "") {
    return { action: "drop", reason: "empty message" };
  }
  return {
    args: [{ name: env.socket.data.name, time: new Date().toISOString(), text }],
  };
});
