package herald

import "time"

// BulkJob is a background operation on many deliveries (a recovery), whose
// progress a client reads while it runs.
type BulkJob struct {
	ID    string `json:"id"`
	AppID string `json:"app_id"`
	Kind  string `json:"kind"`
	// State is running, succeeded or failed.
	State     string    `json:"state"`
	Total     int       `json:"total"`
	Done      int       `json:"done"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Bulk job states.
const (
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)
