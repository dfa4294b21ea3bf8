package hub

// What the package's external tests need to see inside.

// MaxQueuedTasks and MaxQueuedBytes are the bounds of a socket's queue of
// events (dispatch.go).
const (
	MaxQueuedTasks = maxQueuedTasks
	MaxQueuedBytes = maxQueuedBytes
)

// QueuedTasks returns the number of tasks waiting for the socket's runner
// (not counting the one it runs).
func (s *Socket) QueuedTasks() int { return s.tasks.len() }

// PendingAcks returns the number of entries in the socket's ack table.
func (s *Socket) PendingAcks() int {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	return len(s.acks)
}

// AckBroadcasts returns the number of this node's broadcasts with acks
// whose targets may still answer (MemoryAdapter.BroadcastWithAck).
func (n *Namespace) AckBroadcasts() int {
	a := n.local
	a.acksMu.Lock()
	defer a.acksMu.Unlock()
	count := 0
	for _, list := range a.ackBroadcasts {
		count += len(list)
	}
	return count
}
