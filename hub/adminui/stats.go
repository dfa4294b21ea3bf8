package adminui

import (
	"os"
	"sort"
	"time"

	"github.com/hubd/hubd/hub"
)

// aggregatedEvent is a count of one kind of engine event, as the UI's
// dashboard charts them (the Node package's NamespaceEvent).
type aggregatedEvent struct {
	Timestamp int64  `json:"timestamp"` // Unix milliseconds, to the second
	Type      string `json:"type"`
	SubType   string `json:"subType,omitempty"`
	Count     uint64 `json:"count"`
}

type namespaceStats struct {
	Name         string `json:"name"`
	SocketsCount int    `json:"socketsCount"`
}

// serverStats is what server_stats carries.
type serverStats struct {
	ServerID            string            `json:"serverId"`
	Hostname            string            `json:"hostname"`
	PID                 int               `json:"pid"`
	Uptime              float64           `json:"uptime"` // seconds
	ClientsCount        int               `json:"clientsCount"`
	PollingClientsCount int               `json:"pollingClientsCount"`
	AggregatedEvents    []aggregatedEvent `json:"aggregatedEvents"`
	Namespaces          []namespaceStats  `json:"namespaces"`
}

// statsState is the traffic counts last reported, owned by runStats.
type statsState struct {
	last *hub.Traffic // nil: no baseline (no UI watched)
	wake chan struct{}
}

// runStats sends server_stats every StatsInterval while a UI watches
// (always with a cluster adapter: the other nodes' UIs list this one).
func (a *Admin) runStats() {
	defer close(a.done)
	t := time.NewTicker(a.opts.StatsInterval)
	defer t.Stop()
	for {
		if a.active() {
			a.transportChanges()
			a.emit("server_stats", a.collect())
		} else {
			a.stats.last = nil
		}
		select {
		case <-a.stop:
			return
		case <-t.C:
		case <-a.stats.wake:
		}
	}
}

// wakeStats has server_stats sent now, for a UI that just connected.
func (a *Admin) wakeStats() {
	select {
	case a.stats.wake <- struct{}{}:
	default:
	}
}

// collect takes the statistics, with the traffic since the last time as
// aggregated events.
func (a *Admin) collect() serverStats {
	host, _ := os.Hostname()
	tr := a.srv.Traffic()
	st := serverStats{
		ServerID:            a.opts.ServerID,
		Hostname:            host,
		PID:                 os.Getpid(),
		Uptime:              time.Since(processStart).Seconds(),
		ClientsCount:        tr.Open,
		PollingClientsCount: tr.Polling,
		AggregatedEvents:    a.aggregate(&tr),
		Namespaces:          []namespaceStats{},
	}
	for _, n := range a.srv.Namespaces() {
		st.Namespaces = append(st.Namespaces, namespaceStats{Name: n.Name(), SocketsCount: n.Len()})
	}
	sort.Slice(st.Namespaces, func(i, j int) bool { return st.Namespaces[i].Name < st.Namespaces[j].Name })
	return st
}

// aggregate turns the growth of the traffic counts since the last call
// into the Node package's event counts. A count that went down (a
// connection ending while the counts were taken) is kept at its highest.
func (a *Admin) aggregate(tr *hub.Traffic) []aggregatedEvent {
	events := []aggregatedEvent{}
	last := a.stats.last
	next := *tr
	next.Closed = make(map[string]uint64, len(tr.Closed))
	for r, n := range tr.Closed {
		next.Closed[r] = n
	}
	if last == nil {
		a.stats.last = &next
		return events
	}
	ts := time.Now().Truncate(time.Second).UnixMilli()
	add := func(typ, sub string, cur uint64, prev *uint64) {
		if cur > *prev {
			events = append(events, aggregatedEvent{Timestamp: ts, Type: typ, SubType: sub, Count: cur - *prev})
			*prev = cur
		}
	}
	add("rawConnection", "", next.Opened, &last.Opened)
	reasons := make([]string, 0, len(next.Closed))
	for r := range next.Closed {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		prev := last.Closed[r]
		add("rawDisconnection", r, next.Closed[r], &prev)
		last.Closed[r] = prev
	}
	add("packetsIn", "", next.PacketsIn, &last.PacketsIn)
	add("packetsOut", "", next.PacketsOut, &last.PacketsOut)
	add("bytesIn", "", next.BytesIn, &last.BytesIn)
	add("bytesOut", "", next.BytesOut, &last.BytesOut)
	return events
}
