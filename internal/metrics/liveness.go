package metrics

import "github.com/prometheus/client_golang/prometheus"

// liveness holds the metrics of nodes taking over each other's work.
type liveness struct {
	nodes    prometheus.Gauge
	takeover prometheus.Counter
	fenced   prometheus.Counter
}

func (l *liveness) register(reg *prometheus.Registry, labels prometheus.Labels) {
	l.nodes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "herald_nodes", Help: "Nodes sharing the work, as this node last counted them (its own heartbeat included).", ConstLabels: labels,
	})
	l.takeover = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "herald_leases_taken_over_total", Help: "Leases of dead nodes (missed heartbeats) this node released so that their deliveries go out at once.", ConstLabels: labels,
	})
	l.fenced = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "herald_deliveries_fenced_total", Help: "Deliveries this node dropped because its lease on them was lost (it was presumed dead): not sent, or their attempt not recorded.", ConstLabels: labels,
	})
	l.nodes.Set(1)
	reg.MustRegister(l.nodes, l.takeover, l.fenced)
}

// Nodes sets how many nodes share the work.
func (m *Metrics) Nodes(n int) {
	if m != nil {
		m.live.nodes.Set(float64(n))
	}
}

// LeasesTakenOver counts leases of dead nodes released by this one.
func (m *Metrics) LeasesTakenOver(n int) {
	if m != nil {
		m.live.takeover.Add(float64(n))
	}
}

// Fenced counts deliveries dropped for a lost lease.
func (m *Metrics) Fenced(n int) {
	if m != nil {
		m.live.fenced.Add(float64(n))
	}
}
