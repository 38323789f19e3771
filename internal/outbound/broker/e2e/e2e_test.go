package e2e_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/verify"
)

// schedule retries soon, and often enough to outlast a broker taken away
// for a few seconds.
const schedule = "200ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"

// startHerald starts a Herald with app acme and event type lead.created.
func startHerald(t *testing.T) *heraldtest.Server {
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: schedule})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	return s
}

// endpoint creates a broker endpoint of app acme and returns its id and
// signing secret.
func endpoint(t *testing.T, s *heraldtest.Server, kind string, dest map[string]any, extra map[string]any) (id, secret string) {
	t.Helper()
	body := map[string]any{"kind": kind, "destination": dest, "headers": map[string]string{"x-tenant": "acme"}}
	for k, v := range extra {
		body[k] = v
	}
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
	var sec struct{ Secret string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID+"/secret", nil, &sec, 200)
	return ep.ID, sec.Secret
}

// delivery is the event's (only) delivery with its attempts.
func delivery(t *testing.T, s *heraldtest.Server, eventID string) heraldtest.Delivery {
	t.Helper()
	var pg struct{ Data []heraldtest.Delivery }
	s.MustDo("GET", "/v1/apps/acme/events/"+eventID+"/deliveries", nil, &pg, 200)
	if len(pg.Data) != 1 {
		return heraldtest.Delivery{}
	}
	var d heraldtest.Delivery
	s.MustDo("GET", "/v1/apps/acme/deliveries/"+pg.Data[0].ID, nil, &d, 200)
	return d
}

// waitFor polls the event's delivery until ok holds, or fails the test.
func waitFor(t *testing.T, s *heraldtest.Server, eventID, what string, within time.Duration, ok func(d heraldtest.Delivery) bool) heraldtest.Delivery {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		d := delivery(t, s, eventID)
		if d.ID != "" && ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(d)
			t.Fatalf("event %s: %s did not happen within %v; delivery: %s", eventID, what, within, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func failedWith(kind herald.ErrorKind) func(d heraldtest.Delivery) bool {
	return func(d heraldtest.Delivery) bool {
		return d.Status == string(herald.StatusPending) && slices.ContainsFunc(d.Attempts, func(a herald.Attempt) bool { return a.ErrorKind == kind })
	}
}

func succeeded(d heraldtest.Delivery) bool { return d.Status == string(herald.StatusSucceeded) }

// collect reads tg until a message with each of ids (webhook-id) came,
// and returns them by id; a copy of one (at least once) is allowed.
func collect(t *testing.T, tg *target, ids []string, within time.Duration) map[string]message {
	t.Helper()
	got := map[string]message{}
	deadline := time.Now().Add(within)
	for {
		for _, m := range tg.read(t) {
			id := m.headers["webhook-id"]
			if !slices.Contains(ids, id) {
				t.Errorf("a message no delivery of this test made arrived: webhook-id %q", id)
			}
			got[id] = m
		}
		if len(got) >= len(ids) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages arrived within %v", len(got), len(ids), within)
		}
	}
}

// verifySigned checks the Standard Webhooks signature of m with the
// endpoint's secret, as a consumer would.
func verifySigned(t *testing.T, secret string, m message) {
	t.Helper()
	v, err := verify.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for _, n := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if m.headers[n] == "" {
			t.Errorf("no %s in %v", n, m.headers)
		}
		h.Set(n, m.headers[n])
	}
	if err := v.Verify(h, m.body); err != nil {
		t.Errorf("signature does not verify: %v (headers %v)", err, m.headers)
	}
}

// checkPublished checks the history's record of the delivery's last
// attempt: a PUBLISH, answered with the broker's acknowledgement.
func checkPublished(t *testing.T, d heraldtest.Delivery, ack string) {
	t.Helper()
	if len(d.Attempts) == 0 {
		t.Fatalf("delivery %s has no attempts", d.ID)
	}
	a := d.Attempts[0]
	for _, b := range d.Attempts {
		if b.Number > a.Number {
			a = b
		}
	}
	if a.Request.Method != "PUBLISH" || a.Response == nil || a.Response.StatusCode != 200 || !strings.HasPrefix(a.Response.Body, ack) || a.ErrorKind != "" {
		b, _ := json.Marshal(a)
		t.Errorf("last attempt %s, want PUBLISH answered 200 with %q...", b, ack)
	}
}

// An event reaches each kind's broker with the Standard Webhooks headers,
// and verifies with the endpoint's secret; the history shows the PUBLISH
// and the broker's acknowledgement.
func TestE2EArrivesAndVerifies(t *testing.T) {
	for _, kc := range kinds {
		t.Run(kc.kind, func(t *testing.T) {
			t.Parallel()
			tg := kc.open(t, false)
			s := startHerald(t)
			_, secret := endpoint(t, s, kc.kind, tg.dest, nil)
			ev := s.Send(map[string]any{"name": "Ann", "kind": kc.kind})
			d := waitFor(t, s, ev, "success", 30*time.Second, succeeded)
			m := collect(t, tg, []string{d.ID}, 20*time.Second)[d.ID]
			verifySigned(t, secret, m)
			if m.headers["x-tenant"] != "acme" || m.headers["content-type"] != "application/json" {
				t.Errorf("headers %v", m.headers)
			}
			var body struct {
				Type string
				Data struct{ Name, Kind string }
			}
			if err := json.Unmarshal(m.body, &body); err != nil || body.Type != "lead.created" || body.Data.Kind != kc.kind {
				t.Errorf("body %s (%v)", m.body, err)
			}
			checkPublished(t, d, tg.ack)
		})
	}
}

// With the broker away, deliveries fail as connect and stay pending; once
// it is back every one arrives and succeeds: nothing is lost.
func TestE2EBrokerDown(t *testing.T) {
	for _, kc := range kinds {
		t.Run(kc.kind, func(t *testing.T) {
			t.Parallel()
			tg := kc.open(t, true)
			s := startHerald(t)
			_, secret := endpoint(t, s, kc.kind, tg.dest, nil)
			tg.down()
			var evs []string
			for i := range 5 {
				evs = append(evs, s.Send(map[string]any{"n": i}))
			}
			for _, ev := range evs {
				waitFor(t, s, ev, "a failed attempt (connect)", 30*time.Second, failedWith(herald.ErrorKindConnect))
			}
			tg.up()
			var ids []string
			for _, ev := range evs {
				d := waitFor(t, s, ev, "success after the broker came back", 40*time.Second, succeeded)
				checkPublished(t, d, tg.ack)
				ids = append(ids, d.ID)
			}
			for _, m := range collect(t, tg, ids, 20*time.Second) {
				verifySigned(t, secret, m)
			}
		})
	}
}

// A publish the broker refuses (no stream, unroutable, WRONGTYPE, unknown
// topic, ACL, missing topic or queue) is error kind rejected and retried,
// not counted as delivered; once the broker takes it, it is.
func TestE2ENotAcknowledged(t *testing.T) {
	for _, kc := range kinds {
		t.Run(kc.kind, func(t *testing.T) {
			t.Parallel()
			tg, fix := kc.refuse(t)
			s := startHerald(t)
			_, secret := endpoint(t, s, kc.kind, tg.dest, nil)
			ev := s.Send(map[string]any{"name": "Ann"})
			// Two refusals: the first was retried, and neither counted.
			d := waitFor(t, s, ev, "two rejected attempts", 30*time.Second, func(d heraldtest.Delivery) bool {
				n := 0
				for _, a := range d.Attempts {
					if a.ErrorKind == herald.ErrorKindRejected {
						n++
					}
				}
				return d.Status == string(herald.StatusPending) && n >= 2
			})
			for _, a := range d.Attempts {
				if a.ErrorKind == herald.ErrorKindRejected && (a.Response != nil || a.Error == "") {
					b, _ := json.Marshal(a)
					t.Errorf("a rejected attempt recorded as answered, or without its error: %s", b)
				}
			}
			fix()
			d = waitFor(t, s, ev, "success once the broker takes the message", 30*time.Second, succeeded)
			checkPublished(t, d, tg.ack)
			verifySigned(t, secret, collect(t, tg, []string{d.ID}, 20*time.Second)[d.ID])
		})
	}
}

// A destination's credentials are used to log in, yet appear in no API
// answer (masked "********") and nowhere in the database files.
func TestE2ECredentialsAtRest(t *testing.T) {
	for _, kc := range kinds {
		t.Run(kc.kind, func(t *testing.T) {
			t.Parallel()
			tg, secrets := kc.creds(t)
			s := startHerald(t)
			id, secret := endpoint(t, s, kc.kind, tg.dest, nil)
			if tg.read != nil {
				ev := s.Send(map[string]any{"name": "Ann"})
				d := waitFor(t, s, ev, "success", 30*time.Second, succeeded)
				checkPublished(t, d, tg.ack)
				verifySigned(t, secret, collect(t, tg, []string{d.ID}, 20*time.Second)[d.ID])
			}
			// A change of another field keeps the credentials (the masks
			// come back), and is in the audit log too.
			var raw json.RawMessage
			s.MustDo("GET", "/v1/apps/acme/endpoints/"+id, nil, &raw, 200)
			var got struct{ Destination map[string]any }
			_ = json.Unmarshal(raw, &got)
			s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+id, map[string]any{"destination": got.Destination, "description": "patched"}, nil, 200)
			for _, path := range []string{"/v1/apps/acme/endpoints/" + id, "/v1/apps/acme/endpoints", "/v1/apps/acme/audit-log"} {
				s.MustDo("GET", path, nil, &raw, 200)
				for _, sec := range secrets {
					if strings.Contains(string(raw), sec) {
						t.Errorf("GET %s shows a credential: %s", path, raw)
					}
				}
				if !strings.Contains(string(raw), "********") {
					t.Errorf("GET %s shows no mask: %s", path, raw)
				}
			}
			if tg.read != nil {
				// Still delivered after the masks came back.
				ev := s.Send(map[string]any{"name": "Bo"})
				d := waitFor(t, s, ev, "success after the patch", 30*time.Second, succeeded)
				collect(t, tg, []string{d.ID}, 20*time.Second)
			}
			// The files as they are while Herald runs (the -wal holding the
			// latest writes), then once it stopped (checkpointed).
			inClear(t, s.Dir, secrets)
			s.Stop()
			inClear(t, s.Dir, secrets)
		})
	}
}

// inClear fails the test if a database file in dir holds one of secrets.
func inClear(t *testing.T, dir string, secrets []string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "herald.db*"))
	if len(files) == 0 {
		t.Fatal("no database file")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue // a -wal or -shm gone since the glob
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets {
			if strings.Contains(string(b), sec) {
				t.Errorf("%s holds %q in clear", filepath.Base(f), sec)
			}
		}
	}
}

// Every broker kind has its end-to-end cases, in the docs' order.
func TestE2ECoversEveryKind(t *testing.T) {
	var got []string
	for _, kc := range kinds {
		got = append(got, kc.kind)
	}
	if !slices.Equal(got, herald.BrokerKinds) {
		t.Errorf("end-to-end cases for %v, broker kinds %v", got, herald.BrokerKinds)
	}
}
