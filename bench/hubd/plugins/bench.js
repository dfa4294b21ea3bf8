// bench.js: a pass-through "event" hook for the hubd benchmark. It reads
// what a typical per-event plugin reads (the event name and a field of the
// first argument) and returns nothing, so every event is relayed unchanged.
// Its cost is the per-event JavaScript plugin overhead.

let last = 0;

hubd.on("event", (env) => {
  if (env.event !== "msg") return;
  const payload = env.args[0];
  if (payload && typeof payload.s === "number") last = payload.s;
});
