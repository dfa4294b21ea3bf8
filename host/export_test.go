package host

// BreakerMinBackoff is breakerMinBackoff, for the tests of package
// host_test.
const BreakerMinBackoff = breakerMinBackoff

// StruckSockets returns how many sockets plugin keeps strikes for, for the
// tests of package host_test.
func (h *Host) StruckSockets(plugin string) int {
	for _, l := range h.current.Load().plugins {
		if l.m.Name == plugin {
			return l.strikes.len()
		}
	}
	return -1
}
