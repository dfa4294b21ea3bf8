// A shadow of TestShadowUnruly (host/shadow_e2e_test.go) that misbehaves
// on purpose: it throws on connect, returns garbage on "shout", loops
// forever on "secret" and allows joins.
hubd.on("connect", () => {
  throw new Error("unruly");
});
hubd.on("join", () => {});
hubd.on("event", (env) => {
  if (env.event === "shout") return { action: "explode" };
  if (env.event === "secret") for (;;) {}
});
