package store

import "github.com/heraldhq/herald"

// FollowedColumns are the columns of one followed attempt that drivers
// scan alike, turned into a FollowedAttempt by Followed.
type FollowedColumns struct {
	Status    *int // the response's status code; nil when none came
	LatencyUS int64
}

// Followed completes f.Attempt from c: the response (its status code
// only, the follower gets no bodies) and the latency.
func Followed(f *FollowedAttempt, c FollowedColumns) *FollowedAttempt {
	if c.Status != nil {
		f.Attempt.Response = &herald.AttemptResponse{StatusCode: *c.Status}
	}
	f.Attempt.LatencyMS = float64(c.LatencyUS) / 1000
	return f
}
