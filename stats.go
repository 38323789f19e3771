package herald

import "time"

// EndpointStats summarise an endpoint's recent deliveries.
type EndpointStats struct {
	Hour StatsWindow `json:"last_hour"`
	Day  StatsWindow `json:"last_day"`
	Week StatsWindow `json:"last_week"`
	// Latencies of the week's attempts that got an answer.
	LatencyP50MS     *float64   `json:"latency_p50_ms"`
	LatencyP99MS     *float64   `json:"latency_p99_ms"`
	LastSuccessAt    *time.Time `json:"last_success_at"`
	LastFailureAt    *time.Time `json:"last_failure_at"`
	LastFailureError string     `json:"last_failure_error"`
	// FailingSince is when the first failed attempt after the latest
	// success was made (within the week), nil while the latest attempt
	// succeeded: an endpoint failing now, retries pending or not.
	FailingSince *time.Time `json:"failing_since"`
	// Series is the last day hour by hour, oldest first, for charts.
	Series []StatsBucket `json:"series"`
}

// StatsBucket counts the attempts made in one hour.
type StatsBucket struct {
	Start     time.Time `json:"start"`
	Attempts  int       `json:"attempts"`
	Succeeded int       `json:"succeeded"`
	Failed    int       `json:"failed"`
	// SuccessRate is succeeded / attempts, null for an hour without any.
	SuccessRate  *float64 `json:"success_rate"`
	LatencyP50MS *float64 `json:"latency_p50_ms"`
	LatencyP99MS *float64 `json:"latency_p99_ms"`
}

// StatsWindow counts deliveries created in a time window by status.
type StatsWindow struct {
	Pending   int `json:"pending"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Retrying counts the pending deliveries already attempted: their
	// latest attempt failed and a retry is due.
	Retrying int `json:"retrying"`
	// Cancelled counts the deliveries the endpoint's transformation
	// dropped; they count in no rate.
	Cancelled int `json:"cancelled"`
	// SuccessRate is succeeded / (succeeded + failed + retrying), null
	// when none was attempted: a receiver that is down shows in it at
	// once, not only once retries run out.
	SuccessRate *float64 `json:"success_rate"`
}
