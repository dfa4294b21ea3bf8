// A content filter as an operator might write it, with two mistakes a
// client can reach: a regular expression that backtracks, and a padding
// width taken from the client's message. Teams' namespaces are closed.
const shouting = /^(?=a)(a+)+$/;

hubd.on("connect", (env) =>
  env.ns.startsWith("/team-") ? { action: "deny", reason: "teams are closed" } : undefined);

hubd.on("event", (env) => {
  const m = env.args && env.args[0];
  if (!m || typeof m !== "object") return undefined;
  if (typeof m.text === "string" && shouting.test(m.text)) {
    return { action: "deny", reason: "no shouting" };
  }
  if (typeof m.indent === "number") {
    return { args: [Object.assign({}, m, { text: " ".repeat(m.indent) + m.text })] };
  }
  return undefined;
});
