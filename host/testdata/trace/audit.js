// The first plugin of TestDecisionTraces' chain (host/trace_e2e_test.go):
// it looks at every call and allows it unchanged.
let calls = 0;
for (const hook of ["connect", "join", "event", "disconnect"]) {
  hubd.on(hook, () => {
    calls++;
  });
}
