// The live plugin of TestShadowPlugins (host/shadow_e2e_test.go): it lets
// every connect, join and event through unchanged, where its shadow (the
// policy of host/testdata/trace) refuses and transforms some.
for (const hook of ["connect", "join", "event"]) {
  hubd.on(hook, () => {});
}
