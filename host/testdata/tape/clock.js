// A policy that reads the clock and the random generator, for the replay
// tests (host/tape_e2e_test.go): it answers the event "roll" with a reply
// of a random number, Date.now() and new Date()'s ISO form; it lets every
// other call through.
hubd.on("event", (env) => {
  if (env.event !== "roll") return;
  return { action: "reply", reply: [Math.floor(Math.random() * 1e9), Date.now(), new Date().toISOString()] };
});
