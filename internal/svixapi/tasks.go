package svixapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func (h *Handler) taskRoutes() {
	h.handle("GET /api/v1/background-task/{task_id}", h.getTask)
	h.unsupported("GET /api/v1/background-task", "listing background tasks",
		"Herald's background jobs belong to an app and are read one at a time; keep the task id that recover or replay-missing answered")
}

// Task ids carry the app, since Svix's path has none and Herald's jobs
// are an app's: qtask_<app id>_<job id> for a Herald job (recover), and
// qtask_<app id>_replay_<events sent>_<unix ms> for a replay-missing,
// done by the time it answers.
const (
	taskPrefix = "qtask_"
	jobSep     = "_job_"
	replaySep  = "_replay_"
)

// heraldJob is a background job as Herald's API answers it.
type heraldJob struct {
	ID        string    `json:"id"`
	AppID     string    `json:"app_id"`
	Kind      string    `json:"kind"`
	State     string    `json:"state"`
	Total     int       `json:"total"`
	Done      int       `json:"done"`
	Error     string    `json:"error"`
	UpdatedAt time.Time `json:"updated_at"`
}

// taskOut is Svix's BackgroundTaskOut.
type taskOut struct {
	ID        string         `json:"id"`
	Status    string         `json:"status"`
	Task      string         `json:"task"`
	Data      map[string]any `json:"data"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

// taskRef is Svix's RecoverOut and ReplayOut.
type taskRef struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Task      string    `json:"task"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func toTask(j heraldJob) taskOut {
	status := "running"
	switch j.State {
	case "succeeded":
		status = "finished"
	case "failed":
		status = "failed"
	}
	data := map[string]any{"total": j.Total, "done": j.Done}
	if j.Error != "" {
		data["error"] = j.Error
	}
	return taskOut{ID: taskPrefix + j.AppID + "_" + j.ID, Status: status, Task: "endpoint.recover", Data: data, UpdatedAt: j.UpdatedAt}
}

func replayTaskID(appID string, sent int, at time.Time) string {
	return taskPrefix + appID + replaySep + strconv.Itoa(sent) + "_" + strconv.FormatInt(at.UnixMilli(), 10)
}

// getTask answers GET /api/v1/background-task/{task_id}.
func (h *Handler) getTask(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	id := r.PathValue("task_id")
	rest, ok := strings.CutPrefix(id, taskPrefix)
	if !ok {
		return notFound("background task " + id)
	}
	if i := strings.LastIndex(rest, replaySep); i > 0 {
		appID := rest[:i]
		sent, at, ok := strings.Cut(rest[i+len(replaySep):], "_")
		n, err1 := strconv.Atoi(sent)
		ms, err2 := strconv.ParseInt(at, 10, 64)
		if !ok || err1 != nil || err2 != nil || n < 0 {
			return notFound("background task " + id)
		}
		// The caller must see the app, as for a job.
		if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", appID)}, nil); e != nil {
			return e
		}
		writeJSON(w, http.StatusOK, taskOut{ID: id, Status: "finished", Task: "endpoint.replay",
			Data: map[string]any{"sent": n}, UpdatedAt: time.UnixMilli(ms).UTC()})
		return nil
	}
	i := strings.LastIndex(rest, jobSep)
	if i <= 0 {
		return notFound("background task " + id)
	}
	var j heraldJob
	if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", rest[:i], "/jobs/", rest[i+1:])}, &j); e != nil {
		if e.Status == http.StatusNotFound {
			return notFound("background task " + id)
		}
		return e
	}
	writeJSON(w, http.StatusOK, toTask(j))
	return nil
}

// queryOf builds query parameters from a map.
func queryOf(m map[string]string) url.Values {
	q := url.Values{}
	for k, v := range m {
		q.Set(k, v)
	}
	return q
}
