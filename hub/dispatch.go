package hub

import "sync"

// The handler execution model.
//
// The goroutine that reads a connection (the engine's WebSocket reader, or
// the request of a polling POST) decodes each packet and hands it to the
// client. What needs no application code is done there at once: an ACK
// packet calls its ack callback, so a listener waiting for its own
// client's answer gets it. What runs application code is queued on its
// socket and run by the socket's runner, one task at a time, in the order
// the packets came:
//
//   - an EVENT: the event hook, the catch-all listeners, the socket's
//     middlewares and the event's listeners;
//   - a CONNECT: the namespace lookup, the middlewares, the connect hook,
//     the CONNECT reply and the connection listeners — the first task of
//     the socket it makes, so that the client's first events wait for the
//     listeners those set;
//   - the client's DISCONNECT of the namespace, after the events it sent
//     before it;
//   - while the runner is busy, the end of the connection (Socket.onClose)
//     and the error of a malformed packet (client.fail), after the tasks
//     queued before them: as in the reference, the client's events are
//     dispatched before its disconnect, and a connection's listeners are
//     set before anything the client does is seen.
//
// The runner is a goroutine started when a task is queued on an idle
// socket; it exits when the queue is empty, so an idle connection costs no
// goroutine. Over WebSocket, the reading goroutine itself is the runner
// when the socket is idle (engine.Conn.RunInline): a listener that does
// not wait then costs no goroutine and its replies no writer; should it
// run for more than a millisecond, the reading moves to a fresh goroutine
// and the old one finishes the socket's tasks as its runner. The reader is thus free while a listener waits (for an ack, a
// database, a plugin): acks, other sockets' packets and the engine's pongs
// keep being read.
//
// The queue is bounded (maxQueuedTasks, maxQueuedBytes): a client that
// sends faster than its listeners run fills it, and then its reader waits
// for room — the client's connection is not read meanwhile, acks and pongs
// included. A listener that waits longer than the ping timeout behind a
// full queue thus ends the connection with "ping timeout", and one that
// waits for an ack of that same client waits for its context.

const (
	// maxQueuedTasks bounds the tasks waiting for one socket's runner.
	maxQueuedTasks = 1024
	// maxQueuedBytes bounds the size of the packets waiting for one
	// socket's runner; a packet of any size is queued when none waits.
	maxQueuedBytes = 1 << 20
	// keptQueue is the ring size an idle socket keeps for its next task;
	// a larger one, grown by a burst, is let go once drained.
	keptQueue = 4
)

// task is one thing a socket's runner does: an event for the listeners, or
// a function (a connect, a client's disconnect).
type task struct {
	ev   *Event
	fn   func()
	size int // bytes the packet took on the wire, for maxQueuedBytes
}

// taskQueue holds a socket's tasks: a ring that the reader pushes to and
// the runner pops from.
type taskQueue struct {
	mu      sync.Mutex
	running bool // a runner goroutine works on the queue (or is about to)
	closed  bool // the socket is gone: tasks are dropped
	n, head int
	bytes   int
	buf     []task
	room    chan struct{} // closed when a task leaves a full queue
}

// full reports whether a task of size bytes must wait for room.
func (q *taskQueue) full(size int) bool {
	return q.n >= maxQueuedTasks || (q.n > 0 && q.bytes+size > maxQueuedBytes)
}

func (q *taskQueue) push(t task) {
	if q.n == len(q.buf) {
		grown := make([]task, max(keptQueue, 2*len(q.buf)))
		for i := range q.n {
			grown[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = t
	q.n++
	q.bytes += t.size
}

func (q *taskQueue) pop() task {
	t := q.buf[q.head]
	q.buf[q.head] = task{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.bytes -= t.size
	return t
}

// later queues fn as a task if the socket's runner is busy, ahead of
// nothing and regardless of the bound (a close, an error: one or two per
// socket), and reports whether it did. When the runner is idle, the caller
// runs fn itself.
func (s *Socket) later(fn func()) bool {
	q := &s.tasks
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.running || q.closed {
		return false
	}
	q.push(task{fn: fn})
	return true
}

// enqueue queues t for the socket's runner, starting the runner if the
// socket is idle. It waits while the queue is full (see above). It reports
// false, dropping t, when the socket is gone.
func (s *Socket) enqueue(t task) bool {
	q := &s.tasks
	q.mu.Lock()
	for !q.closed && q.full(t.size) {
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.mu.Unlock()
		<-room
		q.mu.Lock()
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.push(t)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start && !s.client.conn.RunInline(s.run) {
		go s.run()
	}
	return true
}

// next takes the runner's next task; false means the queue is empty and
// the runner must exit (it is no longer counted as running).
func (q *taskQueue) next() (task, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		q.running = false
		if len(q.buf) > keptQueue {
			q.buf, q.head = nil, 0
		}
		return task{}, false
	}
	t := q.pop()
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	return t, true
}

// close drops the queued tasks and refuses new ones; a reader waiting for
// room goes on (and drops its task).
func (q *taskQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.buf, q.head, q.n, q.bytes = nil, 0, 0, 0
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	q.mu.Unlock()
}

// len returns the number of queued tasks.
func (q *taskQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// run is the socket's runner: it does the queued tasks in order until none
// is left. A panic in application code ends the client's connection (see
// recoverPanic), as it would on the reader.
func (s *Socket) run() {
	defer s.client.srv.recoverPanic("a socket's listener", s.client)
	done := false
	defer func() {
		if !done {
			// A panic: the runner is gone. Run before recoverPanic,
			// which ends the connection, so that the socket's close
			// does not wait in the queue for it.
			s.tasks.abort()
		}
	}()
	for {
		t, ok := s.tasks.next()
		if !ok {
			done = true
			return
		}
		if t.fn != nil {
			t.fn()
		} else {
			s.onEvent(t.ev)
		}
	}
}

// abort marks the runner gone after a panic.
func (q *taskQueue) abort() {
	q.mu.Lock()
	q.running = false
	q.mu.Unlock()
}
