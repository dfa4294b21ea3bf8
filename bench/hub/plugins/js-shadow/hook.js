// An event hook that reads what a typical per-event policy reads (the
// event name and the first argument) and allows the event unchanged: what
// it costs is the plugin path's own cost.
let last = null;

hubd.on("event", (env) => {
  if (env.event === "never") return { action: "deny" };
  last = env.args[0];
});
