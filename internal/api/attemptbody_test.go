package api_test

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestAttemptBodyWithoutPayload: an attempt's request body that holds the
// event's payload is stored without it, and the history still shows, byte
// for byte, the body each receiver got, for the standard envelope, the raw
// format and a template, on the first attempt and on a retry.
func TestAttemptBodyWithoutPayload(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	failFirst := func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}
	standard := heraldtest.NewReceiver(t, failFirst)
	raw := heraldtest.NewReceiver(t, failFirst)
	templated := heraldtest.NewReceiver(t, failFirst)
	s.Setup(standard.URL, nil)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": raw.URL, "payload_format": "raw"}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": templated.URL,
		"body_template": `{"kind":"lead","lead":{{lead}},"note":"{{lead.note}}"}`}, nil, 201)

	note := strings.Repeat("é\u2028<&>", 30)
	evID := s.Send(map[string]any{"lead": map[string]any{"id": 42, "note": note, "tags": []string{"b", "a"}}, "z": nil})
	receivers := map[string]*heraldtest.Receiver{standard.URL: standard, raw.URL: raw, templated.URL: templated}
	for _, rc := range receivers {
		rc.Wait(t, 2, 10*time.Second)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		var pg struct{ Data []heraldtest.Delivery }
		s.MustDo("GET", "/v1/apps/acme/events/"+evID+"/deliveries", nil, &pg, 200)
		done := 0
		for _, d := range pg.Data {
			if d.Status == "succeeded" {
				done++
			}
		}
		if done == 3 {
			for _, d := range pg.Data {
				var full heraldtest.Delivery
				s.MustDo("GET", "/v1/apps/acme/deliveries/"+d.ID, nil, &full, 200)
				if len(full.Attempts) != 2 {
					t.Fatalf("delivery %s: %d attempts, want 2", d.ID, len(full.Attempts))
				}
				for i, a := range full.Attempts {
					rc := receivers[strings.TrimSuffix(a.Request.URL, "/")]
					if rc == nil {
						t.Fatalf("attempt sent to %q, no such receiver", a.Request.URL)
					}
					if got := rc.Requests()[i].Body; a.Request.Body != string(got) {
						t.Errorf("%s attempt %d: history shows\n%s\nreceiver got\n%s", a.Request.URL, i+1, a.Request.Body, got)
					}
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 deliveries succeeded within 10s", done)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The bodies that hold the payload were stored without it: the
	// envelope's and the raw one, twice each.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.Dir, "herald.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var split, kept int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*), coalesce(max(length(request_body)), 0)
		FROM attempts WHERE body_payload_at IS NOT NULL`).Scan(&split, &kept); err != nil {
		t.Fatal(err)
	}
	if split != 4 || kept > 100 {
		t.Errorf("%d attempts stored without the payload (longest rest %d bytes), want 4 (at most 100)", split, kept)
	}
}
