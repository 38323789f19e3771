package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// quotaRig is an app with one endpoint whose receiver refuses everything
// (400: failed at once, never retried), so that deliveries are there to
// send again, resend and recover.
type quotaRig struct {
	t    *testing.T
	s    *heraldtest.Server
	rc   *heraldtest.Receiver
	ep   string
	evs  []string
	dlvs []string
}

func newQuotaRig(t *testing.T, events int) *quotaRig {
	t.Helper()
	rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	s := heraldtest.Start(t, heraldtest.Options{})
	r := &quotaRig{t: t, s: s, rc: rc, ep: s.Setup(rc.URL, nil)}
	for i := range events {
		ev := s.Send(map[string]any{"n": i})
		r.evs = append(r.evs, ev)
		r.dlvs = append(r.dlvs, s.WaitDelivery(ev, "failed", 1, 10*time.Second).ID)
	}
	return r
}

// usage reads the app's count of the month.
func (r *quotaRig) usage() int64 {
	r.t.Helper()
	var u struct{ Deliveries int64 }
	r.s.MustDo("GET", "/v1/apps/acme/usage", nil, &u, 200)
	return u.Deliveries
}

// deliveries counts the endpoint's deliveries.
func (r *quotaRig) deliveries() int {
	r.t.Helper()
	var pg struct{ Data []any }
	r.s.MustDo("GET", "/v1/apps/acme/endpoints/"+r.ep+"/deliveries?include_attempts=false&limit=250", nil, &pg, 200)
	return len(pg.Data)
}

// refused calls the API and checks the answer is 429 quota_exceeded with
// a Retry-After until the month ends, its message saying want.
func (r *quotaRig) refused(method, path string, body any, want string) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, r.s.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+heraldtest.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.s.Client().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiError
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		r.t.Fatalf("%s %s: answer %d is not an error: %v", method, path, resp.StatusCode, err)
	}
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	now := time.Now().UTC()
	nextMonth := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	if resp.StatusCode != http.StatusTooManyRequests || e.Error.Code != "quota_exceeded" || !strings.Contains(e.Error.Message, want) ||
		retry <= 0 || time.Duration(retry)*time.Second > time.Until(nextMonth)+time.Minute {
		r.t.Fatalf("%s %s: %d %+v, Retry-After %q; want 429 quota_exceeded saying %q, retry at the next month",
			method, path, resp.StatusCode, e, resp.Header.Get("Retry-After"), want)
	}
}

// Sending chosen events again counts toward the quota: a send that does
// not fit is refused whole, one that fits is created and counted.
func TestQuotaOnSend(t *testing.T) {
	t.Parallel()
	r := newQuotaRig(t, 3)
	r.s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"monthly_delivery_quota": 5}, nil, 200)
	send := "/v1/apps/acme/endpoints/" + r.ep + "/send"
	r.refused("POST", send, map[string]any{"event_ids": r.evs}, "this would use 3 deliveries and the app has 2 left of its monthly delivery quota of 5")
	if u, n := r.usage(), r.deliveries(); u != 3 || n != 3 {
		t.Fatalf("after a refused send: usage %d, %d deliveries; want 3 and 3", u, n)
	}
	r.s.MustDo("POST", send, map[string]any{"event_ids": r.evs[:2]}, nil, 202)
	if u, n := r.usage(), r.deliveries(); u != 5 || n != 5 {
		t.Fatalf("after a send within the quota: usage %d, %d deliveries; want 5 and 5", u, n)
	}
	r.refused("POST", send, map[string]any{"event_ids": r.evs[:1]}, "the app has used its monthly delivery quota of 5 deliveries (5 used)")
	if u := r.usage(); u != 5 {
		t.Fatalf("usage %d past the quota of 5", u)
	}
}

// A resend counts toward the quota, and past it nothing is sent. Test
// sends never count and go on.
func TestQuotaOnResend(t *testing.T) {
	t.Parallel()
	r := newQuotaRig(t, 2)
	r.s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"monthly_delivery_quota": 3}, nil, 200)
	r.s.MustDo("POST", "/v1/apps/acme/deliveries/"+r.dlvs[0]+"/resend", nil, nil, 200)
	if u := r.usage(); u != 3 {
		t.Fatalf("usage %d after a resend, want 3", u)
	}
	sent := len(r.rc.Requests())
	r.refused("POST", "/v1/apps/acme/deliveries/"+r.dlvs[1]+"/resend", nil, "monthly delivery quota of 3 deliveries (3 used)")
	if n := len(r.rc.Requests()); n != sent {
		t.Fatalf("a refused resend sent %d requests", n-sent)
	}
	r.s.MustDo("POST", "/v1/apps/acme/endpoints/"+r.ep+"/test", map[string]any{"event_type": "lead.created", "payload": map[string]any{}}, nil, 200)
	if u := r.usage(); u != 3 {
		t.Fatalf("usage %d after a test send, want 3", u)
	}
}

// A recovery counts every delivery it requeues: an app already out of
// quota is refused at once; when the quota runs out midway the job stops,
// failed, naming the quota, and what it requeued stays requeued (and
// goes out).
func TestQuotaOnRecover(t *testing.T) {
	t.Parallel()
	r := newQuotaRig(t, 4)
	recover := "/v1/apps/acme/endpoints/" + r.ep + "/recover"
	since := map[string]any{"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)}
	r.s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"monthly_delivery_quota": 4}, nil, 200)
	r.refused("POST", recover, since, "the app has used its monthly delivery quota of 4 deliveries (4 used)")

	r.s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"monthly_delivery_quota": 6}, nil, 200)
	var job struct {
		ID, State, Error string
		Total, Done      int
	}
	r.s.MustDo("POST", recover, since, &job, 202)
	deadline := time.Now().Add(10 * time.Second)
	for job.State == "running" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		r.s.MustDo("GET", "/v1/apps/acme/jobs/"+job.ID, nil, &job, 200)
	}
	if job.State != "failed" || job.Total != 4 || job.Done != 2 || !strings.Contains(job.Error, "monthly delivery quota of 6 deliveries") ||
		!strings.Contains(job.Error, "2 of 4 deliveries were requeued") {
		t.Fatalf("job %+v; want failed after requeuing 2 of 4, naming the quota", job)
	}
	if u := r.usage(); u != 6 {
		t.Fatalf("usage %d after the recovery, want the quota of 6", u)
	}
	var twice []int
	// The two requeued went out again, and failed again; the other two
	// were left as they were.
	r.rc.Wait(t, 6, 10*time.Second)
	for _, id := range r.dlvs {
		var d heraldtest.Delivery
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			r.s.MustDo("GET", "/v1/apps/acme/deliveries/"+id, nil, &d, 200)
			if d.Status == "failed" || time.Now().After(deadline) {
				break
			}
		}
		if d.Status != "failed" {
			t.Fatalf("delivery %s is %s", id, d.Status)
		}
		twice = append(twice, d.AttemptCount)
	}
	slices.Sort(twice)
	if !slices.Equal(twice, []int{1, 1, 2, 2}) {
		t.Fatalf("attempts per delivery %v, want two requeued and sent again, two left alone", twice)
	}
}

// An event is admitted whole or not at all: the store, counting in the
// same transaction, refuses one whose deliveries do not fit in what is
// left, even when the API's early check (the count being below the quota)
// let it through.
func TestQuotaOnEventFanout(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL, nil)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/2"}, nil, 201)
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"monthly_delivery_quota": 5}, nil, 200)
	s.Send(map[string]any{"n": 1})
	s.Send(map[string]any{"n": 2})
	r := &quotaRig{t: t, s: s}
	r.refused("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"n": 3}},
		"this would use 2 deliveries and the app has 1 left of its monthly delivery quota of 5 (4 used)")
	if u := r.usage(); u != 4 {
		t.Fatalf("usage %d, want 4", u)
	}
	var evs struct{ Data []any }
	s.MustDo("GET", "/v1/apps/acme/events", nil, &evs, 200)
	if len(evs.Data) != 2 {
		t.Fatalf("%d events stored, want the 2 admitted", len(evs.Data))
	}
}
