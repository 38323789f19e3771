// Package metrics exposes Herald's Prometheus metrics. Each server has its
// own registry (no global state), so tests and several servers in one
// process do not collide.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/internal/store"
)

// Metrics holds the collectors the engine and the API update. A nil
// *Metrics is valid and records nothing, so callers need no checks.
type Metrics struct {
	reg        *prometheus.Registry
	events     prometheus.Counter
	deliveries *prometheus.CounterVec
	latency    prometheus.Histogram
	inFlight   prometheus.Gauge
	live       liveness
	// Per-app series (and per-endpoint ones, when asked for), bounded
	// by their top-N trackers.
	apps, endpoints *labelled
}

// Options shape the per-app and per-endpoint series.
type Options struct {
	// TopApps is how many apps (and endpoints) get their own series;
	// the rest go under "other". Default 20.
	TopApps int
	// PerEndpoint adds the per-endpoint series.
	PerEndpoint bool
	// Now is the clock of the rankings; nil: time.Now.
	Now func() time.Time
}

// attemptBuckets are the latency histograms' buckets, in seconds.
var attemptBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// labelled holds the attempt series of one label (app or endpoint).
type labelled struct {
	top      *top
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newLabelled(label, what string, o Options, constLabels prometheus.Labels) *labelled {
	l := &labelled{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_" + label + "_attempts_total", ConstLabels: constLabels,
			Help: "Attempts by " + what + " and outcome (succeeded, failed: retried or final), for the top " + what + "s by attempts (--metrics-top-apps); the rest under " + label + "=\"other\".",
		}, []string{label, "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "herald_" + label + "_attempt_duration_seconds", ConstLabels: constLabels, Buckets: attemptBuckets,
			Help: "Attempt latency by " + what + ", for the top " + what + "s by attempts; the rest under " + label + "=\"other\".",
		}, []string{label}),
	}
	l.top = newTop(o.TopApps, o.Now, func(key string) {
		l.attempts.DeleteLabelValues(key, "succeeded")
		l.attempts.DeleteLabelValues(key, "failed")
		l.latency.DeleteLabelValues(key)
	})
	return l
}

func (l *labelled) observe(key string, ok bool, latency time.Duration) {
	if l == nil {
		return
	}
	out := "failed"
	if ok {
		out = "succeeded"
	}
	l.top.observe(key, func(label string) {
		l.attempts.WithLabelValues(label, out).Inc()
		l.latency.WithLabelValues(label).Observe(latency.Seconds())
	})
}

// QueueStatser reports the delivery queue, read at each scrape.
type QueueStatser interface {
	QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error)
}

// New registers Herald's metrics on a new registry; node labels them.
func New(node string, q QueueStatser, o Options) *Metrics {
	if o.TopApps <= 0 {
		o.TopApps = 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	reg := prometheus.NewRegistry()
	labels := prometheus.Labels{"node": node}
	m := &Metrics{
		reg: reg,
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_events_accepted_total", Help: "Events accepted (answered 202), duplicates excluded.", ConstLabels: labels,
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_attempts_total", Help: "Attempts by outcome: succeeded, retry (will be tried again), failed (final), cancelled (by the endpoint's transformation: nothing sent).", ConstLabels: labels,
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_attempt_duration_seconds", Help: "Time from sending a request to its complete answer (or failure).", ConstLabels: labels,
			Buckets: attemptBuckets,
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_requests_in_flight", Help: "Requests this node is sending now.", ConstLabels: labels,
		}),
	}
	reg.MustRegister(m.events, m.deliveries, m.latency, m.inFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.live.register(reg, labels)
	m.apps = newLabelled("app", "app", o, labels)
	reg.MustRegister(m.apps.attempts, m.apps.latency)
	if o.PerEndpoint {
		m.endpoints = newLabelled("endpoint", "endpoint", o, labels)
		reg.MustRegister(m.endpoints.attempts, m.endpoints.latency)
	}
	if q != nil {
		reg.MustRegister(&queueCollector{q: q})
	}
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// EventsAccepted counts accepted events.
func (m *Metrics) EventsAccepted(n int) {
	if m != nil {
		m.events.Add(float64(n))
	}
}

// Attempt records one attempt's outcome and latency, for its app (and
// endpoint) too.
func (m *Metrics) Attempt(appID, endpointID, outcome string, latency time.Duration) {
	if m != nil {
		m.deliveries.WithLabelValues(outcome).Inc()
		if outcome == "cancelled" {
			// Nothing was sent: no latency, and neither a success nor a
			// failure of the receiver.
			return
		}
		m.latency.Observe(latency.Seconds())
		ok := outcome == "succeeded"
		m.apps.observe(appID, ok, latency)
		m.endpoints.observe(endpointID, ok, latency)
	}
}

// InFlight moves the in-flight gauge.
func (m *Metrics) InFlight(delta int) {
	if m != nil {
		m.inFlight.Add(float64(delta))
	}
}

// queueCollector reads the queue at scrape time: a gauge kept up to date
// by every node would be wrong across nodes, the store is right.
type queueCollector struct{ q QueueStatser }

var (
	pendingDesc = prometheus.NewDesc("herald_queue_pending", "Pending deliveries (due or waiting for a retry).", nil, nil)
	dueDesc     = prometheus.NewDesc("herald_queue_due", "Deliveries due now and not yet sent.", nil, nil)
	ageDesc     = prometheus.NewDesc("herald_queue_oldest_due_age_seconds", "How long the oldest due delivery has been waiting.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- dueDesc
	ch <- ageDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := time.Now()
	st, err := c.q.QueueStats(ctx, now)
	if err != nil {
		// The store is down: the other metrics (herald_store_up among
		// them) still answer.
		return
	}
	age := 0.0
	if !st.OldestDue.IsZero() {
		age = now.Sub(st.OldestDue).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(dueDesc, prometheus.GaugeValue, float64(st.Due))
	ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, age)
}

// Held exposes what the delivery engine holds in memory, read at each
// scrape: deliveries queued or in flight, and the bytes counted against
// --queue-memory, beside the budget itself.
func (m *Metrics) Held(budget int64, held func() (deliveries int, bytes int64)) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_memory_held_deliveries", Help: "Deliveries this node holds in memory, queued or in flight."},
			func() float64 { n, _ := held(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_memory_held_bytes", Help: "Bytes those deliveries hold (payloads once per event, plus a fixed overhead each), bounded by herald_memory_budget_bytes."},
			func() float64 { _, b := held(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_memory_budget_bytes", Help: "Bytes the deliveries held in memory may take: a quarter of --queue-memory."},
			func() float64 { return float64(budget) }),
	)
}

// StoreGauges is the store's state as /metrics shows it.
type StoreGauges struct {
	// Up: the store answers; Writable: its last write succeeded.
	Up, Writable bool
	// FreeBytes is the free space of the data dir's file system; below
	// 0 when there is no data dir to report (PostgreSQL).
	FreeBytes int64
}

var (
	storeUpDesc       = prometheus.NewDesc("herald_store_up", "1 when the store answers, 0 while it cannot be reached.", nil, nil)
	storeWritableDesc = prometheus.NewDesc("herald_store_writable", "1 when the store's last write (or probe) succeeded, 0 while it refuses writes (disk full, read-only, unreachable).", nil, nil)
	freeDesc          = prometheus.NewDesc("herald_data_dir_free_bytes", "Free space of the file system of the data dir (the embedded database).", nil, nil)
)

// WatchStore exports the store's state, read at each scrape.
func (m *Metrics) WatchStore(state func() StoreGauges) {
	if m != nil {
		m.reg.MustRegister(storeCollector(state))
	}
}

type storeCollector func() StoreGauges

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storeUpDesc
	ch <- storeWritableDesc
	ch <- freeDesc
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	g := c()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, b(g.Up))
	ch <- prometheus.MustNewConstMetric(storeWritableDesc, prometheus.GaugeValue, b(g.Writable))
	if g.FreeBytes >= 0 {
		ch <- prometheus.MustNewConstMetric(freeDesc, prometheus.GaugeValue, float64(g.FreeBytes))
	}
}
