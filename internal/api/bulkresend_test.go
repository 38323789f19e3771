package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/store"
)

// TestBulkResend resends exactly the deliveries a filter shows: each
// arrives at its receiver again, the others do not; app keys reach their
// app only, and portal sessions that may resend one delivery may resend
// a filtered list, read-only ones may not.
func TestBulkResend(t *testing.T) {
	t.Parallel()
	var healed atomic.Bool
	rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"fail":true`) && !healed.Load() {
			http.Error(w, "not today", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	other := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "10ms"})
	epID := s.Setup(rc.URL, nil)
	var ep2 struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": other.URL}, &ep2, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "B", "uid": "b"}, nil, 201)

	var failing, fine []string
	for i := range 6 {
		id := s.Send(map[string]any{"n": i, "fail": i%2 == 0})
		if i%2 == 0 {
			failing = append(failing, id)
		} else {
			fine = append(fine, id)
		}
	}
	// Every event reaches both endpoints; the failing ones at rc fail
	// twice (the first try and one retry) and stay failed.
	rc.Wait(t, 3*2+3, 10*time.Second)
	other.Wait(t, 6, 10*time.Second)
	waitList(t, s, "/v1/apps/acme/deliveries?status=failed&endpoint_id="+epID, 3)

	// Another app's key, a read-only portal session and a bad filter are
	// refused before anything is sent.
	keyB := mkKey(t, s, map[string]any{"name": "b", "scope": "app", "app": "b"})
	body := map[string]any{"status": "failed", "endpoint_id": epID, "status_code": "5xx"}
	if got := s.DoWith("POST", "/v1/apps/acme/deliveries/resend", body, nil, bearer(keyB)); got != 404 {
		t.Errorf("key of app b: %d, want 404", got)
	}
	var ro struct{ Token string }
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{"read_only": true}, &ro, 201)
	if got := s.DoWith("POST", "/v1/apps/acme/deliveries/resend", body, nil, bearer(ro.Token)); got != 403 {
		t.Errorf("read-only portal session: %d, want 403", got)
	}
	var e struct{ Error struct{ Field string } }
	if got := s.Do("POST", "/v1/apps/acme/deliveries/resend", map[string]any{"status_code": "9xx"}, &e); got != 422 || e.Error.Field != "status_code" {
		t.Errorf("bad status_code: %d %+v", got, e)
	}
	if got := s.Do("POST", "/v1/apps/acme/deliveries/resend", map[string]any{"event_id": "evt_missing"}, &e); got != 422 || e.Error.Field != "event_id" {
		t.Errorf("unknown event: %d %+v", got, e)
	}

	// A portal session that may resend resends the filtered list.
	var ps struct{ Token string }
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{}, &ps, 201)
	healed.Store(true)
	var job struct {
		ID, Kind, State string
		Total, Done     int
	}
	if got := s.DoWith("POST", "/v1/apps/acme/deliveries/resend", body, &job, bearer(ps.Token)); got != 202 {
		t.Fatalf("portal resend: %d", got)
	}
	if job.Kind != "resend" || job.Total != 3 {
		t.Fatalf("job %+v, want kind resend with 3 deliveries", job)
	}
	deadline := time.Now().Add(10 * time.Second)
	for job.State == "running" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		s.MustDo("GET", "/v1/apps/acme/jobs/"+job.ID, nil, &job, 200)
	}
	if job.State != "succeeded" || job.Done != 3 {
		t.Fatalf("job %+v", job)
	}
	waitList(t, s, "/v1/apps/acme/deliveries?status=succeeded&endpoint_id="+epID, 6)

	// Each failing event arrived once more at rc, each other request
	// once only, and the other endpoint got nothing again.
	got := map[int]int{}
	for _, r := range rc.Wait(t, 3*3+3, 10*time.Second) {
		m := nField.FindSubmatch(r.Body)
		if m == nil {
			t.Fatalf("request without n: %s", r.Body)
		}
		got[int(m[1][0]-'0')]++
	}
	for n := range 6 {
		want := 1
		if n%2 == 0 {
			want = 3
		}
		if got[n] != want {
			t.Errorf("event n=%d arrived %d times at the failing endpoint, want %d (all: %v)", n, got[n], want, got)
		}
	}
	if n := len(other.Requests()); n != 6 {
		t.Errorf("the endpoint outside the filter got %d requests, want 6", n)
	}

	// An event's list: one event, its two deliveries.
	s.MustDo("POST", "/v1/apps/acme/deliveries/resend", map[string]any{"event_id": fine[0]}, &job, 202)
	if job.Total != 2 {
		t.Errorf("event resend job %+v, want 2 deliveries", job)
	}
	other.Wait(t, 7, 10*time.Second)
	_ = failing
}

// nField finds the event number in a request body.
var nField = regexp.MustCompile(`"n":\s*([0-9])`)

// waitList polls a delivery list until it shows n deliveries.
func waitList(t *testing.T, s *heraldtest.Server, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pg struct{ Data []struct{ ID string } }
		s.MustDo("GET", path, nil, &pg, 200)
		if len(pg.Data) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d deliveries, want %d", path, len(pg.Data), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTestSendWithoutSample sends a test of an event type that has no
// catalog sample: the receiver gets {} (or the payload typed), not an
// error.
func TestTestSendWithoutSample(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	ep := s.Setup(rc.URL, nil)
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep+"/test", map[string]any{"event_type": "lead.created"}, nil, 200)
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep+"/test", map[string]any{"event_type": "lead.created", "payload": map[string]any{"typed": "ja 日本"}}, nil, 200)
	reqs := rc.Wait(t, 2, 5*time.Second)
	if !strings.Contains(string(reqs[0].Body), `{}`) || !strings.Contains(string(reqs[1].Body), `"typed":"ja 日本"`) {
		t.Errorf("bodies %s / %s", reqs[0].Body, reqs[1].Body)
	}
}

// TestBulkResendBounded refuses a filter that shows more deliveries than
// one job takes, naming the count, and requeues nothing. The 10,001
// deliveries (of a pull endpoint, which Herald never dials) are stored
// straight in the store, a thousand events per transaction, each well
// within the store timeout on a slow machine.
func TestBulkResendBounded(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "pull", "event_types": []string{"lead.created"}}, &ep, 201)
	appID := s.AppID("acme")
	const n = 10_001
	evs := make([]*herald.Event, n)
	now := time.Now().UTC()
	for i := range evs {
		evs[i] = &herald.Event{ID: herald.NewID(herald.PrefixEvent), AppID: appID, EventType: "lead.created",
			Payload: herald.RawJSON(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: now}
	}
	for chunk := range slices.Chunk(evs, 1000) {
		_, err := s.Store.EventsEnqueue(context.Background(), store.EnqueueParams{Events: chunk,
			Route: func(_ *herald.Event, eps []*herald.Endpoint) []store.Target {
				var out []store.Target
				for _, e := range eps {
					out = append(out, store.Target{Endpoint: e})
				}
				return out
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var e struct {
		Error struct{ Field, Message string }
	}
	if got := s.Do("POST", "/v1/apps/acme/deliveries/resend", map[string]any{"endpoint_id": ep.ID}, &e); got != 422 ||
		e.Error.Field != "filter" || !strings.Contains(e.Error.Message, "10001") {
		t.Fatalf("resend of %d deliveries: %d %+v, want 422 naming the count", n, got, e)
	}
	var job struct {
		Total int
		State string
	}
	s.MustDo("POST", "/v1/apps/acme/deliveries/resend", map[string]any{"endpoint_id": ep.ID, "since": now.Add(-time.Hour).Format(time.RFC3339)}, nil, 422)
	s.MustDo("POST", "/v1/apps/acme/deliveries/resend", map[string]any{"endpoint_id": ep.ID, "status": "succeeded"}, &job, 202)
	if job.Total != 0 {
		t.Errorf("resend of no delivery: %+v", job)
	}
}
