package store

import (
	"math"
	"slices"
	"time"

	"github.com/heraldhq/herald"
)

// The windows of EndpointStats, back from now. Drivers bound their reads
// with them; the rest of the arithmetic is StatsBuilder's.
const (
	StatsHour = time.Hour
	StatsDay  = 24 * time.Hour
	StatsWeek = 7 * 24 * time.Hour
)

// StatsBuilder turns what a driver reads for EndpointStats (the counts of
// the week's deliveries by window and status, then their attempts) into
// the stats. Drivers keep the queries, in their own dialect; rates,
// percentiles, the latest success and failure and the series are worked
// out here, so that both drivers report the same numbers.
type StatsBuilder struct {
	// Now and the starts of the week, day and hour windows before it.
	Now, WeekStart, DayStart, HourStart time.Time
	// WeekIDBound is the least id of a delivery created since WeekStart
	// (see herald.IDAt): it lets the endpoint's delivery index read the
	// week's rows only.
	WeekIDBound string

	stats            herald.EndpointStats
	latencies        []int64
	success, failure latestAttempt
	// failures are the times of the failed attempts, for FailingSince.
	failures []time.Time
	series   *SeriesBuilder
}

// NewStatsBuilder starts the stats of the week before now.
func NewStatsBuilder(now time.Time) *StatsBuilder {
	week := now.Add(-StatsWeek)
	return &StatsBuilder{
		Now:         now,
		WeekStart:   week,
		DayStart:    now.Add(-StatsDay),
		HourStart:   now.Add(-StatsHour),
		WeekIDBound: herald.IDAt(herald.PrefixDelivery, week),
		series:      NewSeriesBuilder(now),
	}
}

// Windows returns the windows whose delivery counts the driver fills in.
func (b *StatsBuilder) Windows() (hour, day, week *herald.StatsWindow) {
	return &b.stats.Hour, &b.stats.Day, &b.stats.Week
}

// AddAttempt counts one attempt of the week's deliveries: answered with
// status (nil when no answer came) after latencyUS microseconds, failed
// when errorKind is set, with errMsg as its error.
func (b *StatsBuilder) AddAttempt(id string, at time.Time, status *int, latencyUS int64, errorKind, errMsg string) {
	if status == nil && errorKind == "" {
		// Neither an answer nor a failure: the endpoint's transformation
		// cancelled the delivery, and nothing was sent.
		return
	}
	b.series.Add(at, status, latencyUS)
	if status != nil {
		b.latencies = append(b.latencies, latencyUS)
		if *status >= 200 && *status <= 299 {
			b.success.offer(at, id, "")
		}
	}
	if errorKind != "" {
		b.failure.offer(at, id, errMsg)
		b.failures = append(b.failures, at)
	}
}

// Stats returns the stats of the counts and attempts given.
func (b *StatsBuilder) Stats() *herald.EndpointStats {
	st := b.stats
	for _, w := range []*herald.StatsWindow{&st.Hour, &st.Day, &st.Week} {
		if done := w.Succeeded + w.Failed + w.Retrying; done > 0 {
			r := float64(w.Succeeded) / float64(done)
			w.SuccessRate = &r
		}
	}
	slices.Sort(b.latencies)
	st.LatencyP50MS = PercentileMS(b.latencies, 50)
	st.LatencyP99MS = PercentileMS(b.latencies, 99)
	st.LastSuccessAt = b.success.at
	st.LastFailureAt, st.LastFailureError = b.failure.at, b.failure.err
	st.Series = b.series.Series()
	for _, f := range b.failures {
		if (b.success.at == nil || f.After(*b.success.at)) && (st.FailingSince == nil || f.Before(*st.FailingSince)) {
			t := f.UTC()
			st.FailingSince = &t
		}
	}
	return &st
}

// latestAttempt tracks the latest of some attempts: by time, then by id,
// so that attempts of the same microsecond are ordered alike everywhere.
type latestAttempt struct {
	at  *time.Time
	id  string
	err string
}

func (l *latestAttempt) offer(t time.Time, id, err string) {
	if l.at != nil && (t.Before(*l.at) || t.Equal(*l.at) && id < l.id) {
		return
	}
	t = t.UTC()
	*l = latestAttempt{at: &t, id: id, err: err}
}

// PercentileMS returns the nearest-rank p-th percentile of sorted
// latencies in microseconds, in milliseconds; nil when there is none.
// Nearest rank returns a latency that was measured, never an
// interpolation. Drivers share it so that their stats agree.
func PercentileMS(sorted []int64, p float64) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	ms := float64(sorted[rank-1]) / 1000
	return &ms
}

// SeriesHours is how many hourly buckets EndpointStats.Series holds.
const SeriesHours = 24

// SeriesBuilder sorts attempts into the hourly buckets of
// EndpointStats.Series; drivers share it so that their charts agree.
type SeriesBuilder struct {
	first     time.Time
	buckets   [SeriesHours]herald.StatsBucket
	latencies [SeriesHours][]int64
}

// NewSeriesBuilder covers the SeriesHours clock hours up to and including
// now's.
func NewSeriesBuilder(now time.Time) *SeriesBuilder {
	b := &SeriesBuilder{first: now.UTC().Truncate(time.Hour).Add(-(SeriesHours - 1) * time.Hour)}
	for i := range b.buckets {
		b.buckets[i].Start = b.first.Add(time.Duration(i) * time.Hour)
	}
	return b
}

// Add counts one attempt made at at: answered with status (nil when no
// answer came) after latencyUS microseconds. Attempts outside the hours
// covered are ignored.
func (b *SeriesBuilder) Add(at time.Time, status *int, latencyUS int64) {
	d := at.Sub(b.first)
	if d < 0 {
		return
	}
	i := int(d / time.Hour)
	if i >= SeriesHours {
		return
	}
	k := &b.buckets[i]
	k.Attempts++
	if status != nil && *status >= 200 && *status <= 299 {
		k.Succeeded++
	} else {
		k.Failed++
	}
	if status != nil {
		b.latencies[i] = append(b.latencies[i], latencyUS)
	}
}

// Series returns the buckets, oldest first.
func (b *SeriesBuilder) Series() []herald.StatsBucket {
	out := make([]herald.StatsBucket, SeriesHours)
	for i, k := range b.buckets {
		if k.Attempts > 0 {
			r := float64(k.Succeeded) / float64(k.Attempts)
			k.SuccessRate = &r
		}
		slices.Sort(b.latencies[i])
		k.LatencyP50MS = PercentileMS(b.latencies[i], 50)
		k.LatencyP99MS = PercentileMS(b.latencies[i], 99)
		out[i] = k
	}
	return out
}
