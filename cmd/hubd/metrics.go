package main

import (
	"maps"
	"net/http"
	"regexp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/hub"
)

// metricsPath is where the Prometheus metrics are served when
// metrics.enabled is set (the default).
const metricsPath = "/metrics"

// metrics is hubd's Prometheus registry and the few instruments updated on
// the hot path. Everything else (connections, sockets, rooms, events sent
// and dropped, plugin statistics) is read when scraped from counters the hub
// and the host keep anyway, so that it costs nothing in between.
//
// The metrics, all prefixed hubd_:
//
//	hubd_connections                       gauge    engine connections (every transport)
//	hubd_namespaces{namespace}             gauge    namespaces that exist: 1 for a named one, the children
//	                                                for a pattern
//	hubd_sockets{namespace}                gauge    sockets connected to a namespace on this node
//	hubd_rooms{namespace}                  gauge    rooms of a namespace, sockets' own rooms not counted
//	hubd_events_received_total             counter  events sent by clients (before any hook decides)
//	hubd_events_sent_total                 counter  events queued for clients: one per recipient of a
//	                                                relay, an API emit or any broadcast
//	hubd_events_dropped_total{reason}      counter  events not sent to a client: reason "volatile" (a
//	                                                volatile emit found the client busy), "closed" (the
//	                                                connection was closing, or over its buffer, which
//	                                                closes it)
//	hubd_plugin_hook_calls_total{plugin,runtime,hook,outcome}
//	                                       counter  plugin calls by outcome (allow, deny, drop, reply,
//	                                                disconnect, error, timeout, circuit_open,
//	                                                rejected_input, socket_backoff, abandoned: given
//	                                                up because the socket went)
//	hubd_plugin_hook_duration_seconds{plugin,runtime,hook}
//	                                       histogram time spent in plugin calls (calls refused by an
//	                                                open circuit breaker are not timed)
//	hubd_api_requests_total{code,method}   counter  requests to the HTTP API under /api/
//	hubd_adapter_up                        gauge    1 while the Redis adapter reaches Redis (with adapter redis
//	                                                or redis-streams)
//	hubd_adapter_dropped_total             counter  messages for other nodes lost to a Redis outage
//	hubd_http_connections_refused_total    counter  connections closed at once for being over
//	                                                http.max_conns_per_ip (with the cap on)
//	hubd_recovery_attempted_total          counter  reconnecting clients that asked for their socket back
//	                                                (with recovery on)
//	hubd_recovery_succeeded_total          counter  those that got it back, with what they missed
//	hubd_recovery_refused_total{reason}    counter  those that got a fresh socket instead: reason
//	                                                "unknown_session" (expired, already recovered, never
//	                                                issued), "unknown_offset", "offset_expired" (what it
//	                                                missed is no longer kept), "too_many_missed" (over
//	                                                max_session_packets or max_session_bytes), "refused"
//	                                                (the connect hook refused it, with run_middlewares),
//	                                                "unavailable" (the session store failed)
//
// plus the Go runtime's go_* and the process's process_* metrics.
//
// The namespace label is a namespace's name, or for the children of a
// pattern of the config (clients make those, as many as they like), the
// pattern as written there: the children are counted together, so that
// the series are as many as the config's namespaces, not the clients'.
//
// The plugin counters are those of the loaded plugin set: a reload (SIGHUP
// or a change in the plugin directory) starts them again from zero, which
// Prometheus's rate() and increase() treat as a counter reset.
type metrics struct {
	reg    *prometheus.Registry
	events prometheus.Counter
	api    *prometheus.CounterVec
}

// newMetrics registers hubd's metrics for srv and, when not nil, the
// plugin statistics pluginStats returns (those of the plugins in force).
// labels label the namespaces.
func newMetrics(srv *hub.Server, pluginStats func() []host.HookStats, labels *namespaceLabels) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hubd_events_received_total",
			Help: "Events sent by clients, counted before the hooks and listeners see them.",
		}),
		api: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hubd_api_requests_total",
			Help: "Requests to the HTTP API, by status code and method.",
		}, []string{"code", "method"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.events,
		m.api,
		&hubCollector{srv: srv, labels: labels},
	)
	if pluginStats != nil {
		m.reg.MustRegister(&pluginCollector{stats: pluginStats})
	}
	return m
}

// handler serves the metrics in the Prometheus text (or OpenMetrics)
// format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instrumentAPI counts the requests h serves.
func (m *metrics) instrumentAPI(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(m.api, h)
}

// hooks returns the hook that counts the events clients send; live.hooks
// chains it in front of the plugins' (hub.ChainHooks).
func (m *metrics) hooks() *hub.Hooks {
	events := m.events
	return &hub.Hooks{Event: func(*hub.Event) error {
		events.Inc()
		return nil
	}}
}

// hubCollector reads the hub's gauges when scraped.
type hubCollector struct {
	srv    *hub.Server
	labels *namespaceLabels
}

var (
	connectionsDesc = prometheus.NewDesc("hubd_connections",
		"Engine connections open, on every transport.", nil, nil)
	namespacesDesc = prometheus.NewDesc("hubd_namespaces",
		"Namespaces that exist on this node: 1 for a named one, the children for a pattern.", []string{"namespace"}, nil)
	socketsDesc = prometheus.NewDesc("hubd_sockets",
		"Sockets connected to a namespace on this node.", []string{"namespace"}, nil)
	roomsDesc = prometheus.NewDesc("hubd_rooms",
		"Rooms of a namespace on this node, not counting each socket's own room.", []string{"namespace"}, nil)
	eventsSentDesc = prometheus.NewDesc("hubd_events_sent_total",
		"Events queued for clients, one per recipient.", nil, nil)
	eventsDroppedDesc = prometheus.NewDesc("hubd_events_dropped_total",
		"Events not sent to a client: volatile (the client was busy) or closed (the connection was closing or over its buffer).",
		[]string{"reason"}, nil)
	panicsDesc = prometheus.NewDesc("hubd_panics_recovered_total",
		"Panics recovered on a connection's goroutines; each closed that connection only and is in the log with its stack.", nil, nil)
	slowWritesDesc = prometheus.NewDesc("hubd_slow_client_writes_total",
		"Writes that found a client's socket buffer full (it reads slower than it is sent to); each went on apart, under the write timeout, without holding up other clients.", nil, nil)
	compressionsDesc = prometheus.NewDesc("hubd_websocket_compressions_total",
		"WebSocket messages compressed (socketio.per_message_deflate); a broadcast counts once, however many receive it.", nil, nil)
	compressedDesc = prometheus.NewDesc("hubd_websocket_compressed_messages_total",
		"Compressed WebSocket messages, by direction: sent (one per receiver) or received.", []string{"direction"}, nil)
)

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connectionsDesc
	ch <- namespacesDesc
	ch <- socketsDesc
	ch <- roomsDesc
	ch <- eventsSentDesc
	ch <- eventsDroppedDesc
	ch <- panicsDesc
	ch <- slowWritesDesc
	ch <- compressionsDesc
	ch <- compressedDesc
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(c.srv.Connections()))
	st := c.srv.Stats()
	ch <- prometheus.MustNewConstMetric(eventsSentDesc, prometheus.CounterValue, float64(st.EventsSent))
	ch <- prometheus.MustNewConstMetric(eventsDroppedDesc, prometheus.CounterValue, float64(st.VolatileDropped), "volatile")
	ch <- prometheus.MustNewConstMetric(eventsDroppedDesc, prometheus.CounterValue, float64(st.Undelivered), "closed")
	ch <- prometheus.MustNewConstMetric(panicsDesc, prometheus.CounterValue, float64(st.PanicsRecovered))
	ch <- prometheus.MustNewConstMetric(slowWritesDesc, prometheus.CounterValue, float64(st.SlowWrites))
	ch <- prometheus.MustNewConstMetric(compressionsDesc, prometheus.CounterValue, float64(st.Compressions))
	ch <- prometheus.MustNewConstMetric(compressedDesc, prometheus.CounterValue, float64(st.CompressedSent), "sent")
	ch <- prometheus.MustNewConstMetric(compressedDesc, prometheus.CounterValue, float64(st.CompressedReceived), "received")
	// Every entry of the config has its series, at 0 when it has no
	// namespace (a pattern without children).
	type sums struct{ namespaces, sockets, rooms int }
	by := make(map[string]*sums)
	var order []string
	for _, l := range c.labels.entries {
		if by[l] == nil {
			by[l] = &sums{}
			order = append(order, l)
		}
	}
	for _, n := range c.srv.Namespaces() {
		l := c.labels.of(n.Name())
		s := by[l]
		if s == nil {
			s = &sums{}
			by[l] = s
			order = append(order, l)
		}
		s.namespaces++
		s.sockets += n.Len()
		s.rooms += namedRooms(n)
	}
	for _, l := range order {
		s := by[l]
		ch <- prometheus.MustNewConstMetric(namespacesDesc, prometheus.GaugeValue, float64(s.namespaces), l)
		ch <- prometheus.MustNewConstMetric(socketsDesc, prometheus.GaugeValue, float64(s.sockets), l)
		ch <- prometheus.MustNewConstMetric(roomsDesc, prometheus.GaugeValue, float64(s.rooms), l)
	}
}

// namespaceLabels give a namespace its metric label: its name when the
// config names it; else the pattern of the first entry of the config that
// matches it, as the relay picks its settings, so that a pattern's
// children, which clients make, share one series; else its name (a
// namespace made by hubd itself, as "/" always is).
type namespaceLabels struct {
	named    map[string]bool
	patterns []labelPattern
	entries  []string // every entry's label, in the config's order
}

type labelPattern struct {
	re    *regexp.Regexp
	label string
}

func newNamespaceLabels(ns []NamespaceConfig) *namespaceLabels {
	nl := &namespaceLabels{named: make(map[string]bool)}
	for _, n := range ns {
		if n.Pattern == "" {
			nl.named[n.Name] = true
			nl.entries = append(nl.entries, n.Name)
			continue
		}
		re, err := regexp.Compile(`^(?:` + n.Pattern + `)$`)
		if err != nil {
			continue // Validate has checked it
		}
		nl.patterns = append(nl.patterns, labelPattern{re, n.Pattern})
		nl.entries = append(nl.entries, n.Pattern)
	}
	return nl
}

// of is the label of the namespace called name.
func (nl *namespaceLabels) of(name string) string {
	if nl.named[name] {
		return name
	}
	for _, p := range nl.patterns {
		if p.re.MatchString(name) {
			return p.label
		}
	}
	return name
}

// namedRooms counts the namespace's rooms on this node without the
// sockets' own rooms (named after the socket id), which Namespace.LocalRooms
// lists too. A room is taken for a socket's own when a local socket has
// its name, which is exact for the local adapter hubd uses.
func namedRooms(n *hub.Namespace) int {
	count := 0
	for _, r := range n.LocalRooms() {
		if n.Socket(r) == nil {
			count++
		}
	}
	return count
}

// pluginCollector converts the plugin host's statistics (host.Host.Stats)
// when scraped.
// shadowCollector reports the shadow plugins' comparisons with the live
// plugins they shadow (host.Host.ShadowStats).
type shadowCollector struct {
	stats func() []host.ShadowStats
}

var (
	shadowDecisionsDesc = prometheus.NewDesc("hubd_shadow_decisions_total",
		"Decisions of shadow plugins compared with those of the live plugins they shadow, by result: agree, or the first difference (action, transform, route, reply, data, reason), or the shadow's failure, or dropped (the shadow's queue was full).",
		[]string{"plugin", "shadow", "runtime", "result"}, nil)
	shadowPendingDesc = prometheus.NewDesc("hubd_shadow_pending",
		"Calls waiting for a shadow plugin or running in it.", []string{"plugin", "shadow"}, nil)
)

func (c *shadowCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- shadowDecisionsDesc
	ch <- shadowPendingDesc
}

func (c *shadowCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.stats() {
		for result, n := range st.Results {
			ch <- prometheus.MustNewConstMetric(shadowDecisionsDesc, prometheus.CounterValue, float64(n),
				st.Plugin, st.Shadow, st.Runtime, result)
		}
		ch <- prometheus.MustNewConstMetric(shadowPendingDesc, prometheus.GaugeValue, float64(st.Pending), st.Plugin, st.Shadow)
	}
}

type pluginCollector struct {
	stats func() []host.HookStats
}

var (
	pluginCallsDesc = prometheus.NewDesc("hubd_plugin_hook_calls_total",
		"Plugin hook calls, by outcome.", []string{"plugin", "runtime", "hook", "outcome"}, nil)
	pluginDurationDesc = prometheus.NewDesc("hubd_plugin_hook_duration_seconds",
		"Time spent in plugin hook calls (calls refused by an open circuit breaker are not timed).",
		[]string{"plugin", "runtime", "hook"}, nil)
)

// latencyBounds are host.LatencyBuckets in seconds.
var latencyBounds = func() []float64 {
	buckets := host.LatencyBuckets()
	out := make([]float64, len(buckets))
	for i, b := range buckets {
		out[i] = b.Seconds()
	}
	return out
}()

func (c *pluginCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pluginCallsDesc
	ch <- pluginDurationDesc
}

func (c *pluginCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.stats() {
		hook := string(st.Hook)
		for outcome, n := range st.Outcomes {
			ch <- prometheus.MustNewConstMetric(pluginCallsDesc, prometheus.CounterValue, float64(n),
				st.Plugin, st.Runtime, hook, outcome)
		}
		// Stats counts each bucket alone, the last one for the calls slower
		// than every bound; Prometheus wants cumulative counts, with the
		// total as the count (its +Inf bucket).
		buckets := make(map[float64]uint64, len(latencyBounds))
		var total uint64
		for i, n := range st.Buckets {
			total += n
			if i < len(latencyBounds) {
				buckets[latencyBounds[i]] = total
			}
		}
		ch <- prometheus.MustNewConstHistogram(pluginDurationDesc, total, st.Sum.Seconds(), buckets,
			st.Plugin, st.Runtime, hook)
	}
}

// adapterCollector reports the cluster adapter's link to Redis.
type adapterCollector struct {
	cluster cluster
}

var (
	adapterUpDesc = prometheus.NewDesc("hubd_adapter_up",
		"1 while the cluster adapter reaches Redis or NATS, 0 while broadcasts stay on this node.", nil, nil)
	adapterDroppedDesc = prometheus.NewDesc("hubd_adapter_dropped_total",
		"Messages for the other nodes not published because Redis could not be reached.", nil, nil)
)

func (c *adapterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- adapterUpDesc
	ch <- adapterDroppedDesc
}

func (c *adapterCollector) Collect(ch chan<- prometheus.Metric) {
	up := 0.0
	if c.cluster.Healthy() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(adapterUpDesc, prometheus.GaugeValue, up)
	if d, ok := c.cluster.(dropper); ok {
		ch <- prometheus.MustNewConstMetric(adapterDroppedDesc, prometheus.CounterValue, float64(d.Dropped()))
	}
}

// recoveryCollector reads the hub's recovery counters when scraped
// (registered only with recovery on). Every reason has its series, zero
// or not, so that a rate over one never starts from nothing.
type recoveryCollector struct {
	srv *hub.Server
}

var (
	recoveryAttemptedDesc = prometheus.NewDesc("hubd_recovery_attempted_total",
		"Reconnecting clients that asked for their socket back (connection state recovery).", nil, nil)
	recoverySucceededDesc = prometheus.NewDesc("hubd_recovery_succeeded_total",
		"Reconnecting clients that got their socket back, with the events they missed.", nil, nil)
	recoveryRefusedDesc = prometheus.NewDesc("hubd_recovery_refused_total",
		"Reconnecting clients that asked for their socket back and got a fresh one, by reason.", []string{"reason"}, nil)
)

func (c *recoveryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- recoveryAttemptedDesc
	ch <- recoverySucceededDesc
	ch <- recoveryRefusedDesc
}

func (c *recoveryCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.RecoveryStats()
	ch <- prometheus.MustNewConstMetric(recoveryAttemptedDesc, prometheus.CounterValue, float64(st.Attempted))
	ch <- prometheus.MustNewConstMetric(recoverySucceededDesc, prometheus.CounterValue, float64(st.Recovered))
	for _, reason := range slices.Sorted(maps.Keys(st.Refused)) {
		ch <- prometheus.MustNewConstMetric(recoveryRefusedDesc, prometheus.CounterValue, float64(st.Refused[reason]), reason)
	}
}

// capCollector counts the connections refused by http.max_conns_per_ip
// (registered only when the cap is on).
type capCollector struct {
	ln *capListener
}

var connsRefusedDesc = prometheus.NewDesc("hubd_http_connections_refused_total",
	"Connections closed at once because their address had http.max_conns_per_ip open.", nil, nil)

func (c *capCollector) Describe(ch chan<- *prometheus.Desc) { ch <- connsRefusedDesc }

func (c *capCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(connsRefusedDesc, prometheus.CounterValue, float64(c.ln.Refused()))
}
