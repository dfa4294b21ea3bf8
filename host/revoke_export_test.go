package host

// MatchRevocationData reports whether socket data raw matches the data
// selector of rev, for tests.
func MatchRevocationData(rev Revocation, raw []byte) (bool, error) {
	m, err := newMatcher(rev)
	if err != nil {
		return false, err
	}
	return m.matchData(raw), nil
}
