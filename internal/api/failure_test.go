package api_test

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// deliveryFailure is what a delivery says of its last error.
type deliveryFailure struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	LastError     string `json:"last_error"`
	LastErrorKind string `json:"last_error_kind"`
	Failure       string `json:"failure"`
}

// TestDeliveryFailure: a delivery whose URL cannot be built (a port of
// 65536 filled in from the payload) fails as a failure of its definition,
// last_error_kind render, and its receiver gets nothing; one its receiver
// answers 500 fails as a failure of its destination, last_error_kind
// http_status. Lists and bulk resends filter by failure, and a resend
// that succeeds once the endpoint is fixed clears both. On each store.
func TestDeliveryFailure(t *testing.T) {
	pullStores(t, func(t *testing.T, s *heraldtest.Server) {
		rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(r.Body)
			if bytes.Contains(buf.Bytes(), []byte(`"fail":true`)) {
				http.Error(w, "down", http.StatusInternalServerError)
				return
			}
			_, _ = w.Write([]byte("ok"))
		})
		u, _ := url.Parse(rc.URL)
		ep := s.Setup("http://"+u.Hostname()+":{{port}}/x", nil)

		get := func(id string) deliveryFailure {
			t.Helper()
			var d deliveryFailure
			s.MustDo("GET", "/v1/apps/acme/deliveries/"+id, nil, &d, 200)
			return d
		}
		definition := s.WaitDelivery(s.Send(map[string]any{"port": "65536"}), "failed", 1, 10*time.Second)
		if d := get(definition.ID); d.LastErrorKind != "render" || d.Failure != "definition" || d.LastError == "" {
			t.Errorf("delivery with port 65536: %+v; want last_error_kind render, failure definition", d)
		}
		// Every attempt of the second delivery reaches the receiver, and
		// the first was never retried: what the receiver got is the
		// second's alone.
		destination := s.WaitDelivery(s.Send(map[string]any{"port": u.Port(), "fail": true}), "failed", 4, 10*time.Second)
		if d := get(destination.ID); d.LastErrorKind != "http_status" || d.Failure != "destination" {
			t.Errorf("delivery answered 500: %+v; want last_error_kind http_status, failure destination", d)
		}
		for _, r := range rc.Requests() {
			if !bytes.Contains(r.Body, []byte(`"fail":true`)) {
				t.Errorf("the receiver got %s %s %s; the delivery that could not be built must send nothing", r.Method, r.Path, r.Body)
			}
		}
		if n := len(rc.Requests()); n != 4 {
			t.Errorf("the receiver got %d requests, want the 4 attempts of the delivery answered 500", n)
		}

		list := func(query string) []deliveryFailure {
			t.Helper()
			var pg struct{ Data []deliveryFailure }
			s.MustDo("GET", "/v1/apps/acme/deliveries?"+query, nil, &pg, 200)
			return pg.Data
		}
		for _, c := range []struct{ query, want string }{
			{"failure=definition", definition.ID},
			{"failure=destination", destination.ID},
			{"failure=definition&status=failed&include_attempts=false", definition.ID},
		} {
			if got := list(c.query); len(got) != 1 || got[0].ID != c.want || got[0].Failure == "" {
				t.Errorf("?%s: %+v, want only %s", c.query, got, c.want)
			}
		}
		var pg struct{ Data []deliveryFailure }
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep+"/deliveries?failure=destination", nil, &pg, 200)
		if len(pg.Data) != 1 || pg.Data[0].ID != destination.ID {
			t.Errorf("endpoint's deliveries ?failure=destination: %+v, want only %s", pg.Data, destination.ID)
		}
		if got := list("failure=definition&status=pending"); len(got) != 0 {
			t.Errorf("?failure=definition&status=pending: %+v, want none", got)
		}
		var e struct{ Error struct{ Code, Field string } }
		if code := s.Invalid().Do("GET", "/v1/apps/acme/deliveries?failure=render", nil, &e); code != 400 || e.Error.Field != "failure" {
			t.Errorf("?failure=render: %d %+v, want 400 naming failure", code, e)
		}
		e.Error.Field = ""
		if code := s.Invalid().Do("POST", "/v1/apps/acme/deliveries/resend", map[string]any{"failure": "render"}, &e); code != 422 || e.Error.Field != "failure" {
			t.Errorf("bulk resend with failure render: %d %+v, want 422 naming failure", code, e)
		}

		// Fixed, the endpoint's delivery sent again succeeds: the last
		// error and its kind are gone, and so is the failure.
		s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep, map[string]any{"url": rc.URL + "/x"}, nil, 200)
		var out struct{ Delivery deliveryFailure }
		s.MustDo("POST", "/v1/apps/acme/deliveries/"+definition.ID+"/resend", nil, &out, 200)
		if d := get(definition.ID); d.Status != "succeeded" || d.LastError != "" || d.LastErrorKind != "" || d.Failure != "" {
			t.Errorf("resent after the fix: %+v; want succeeded without last error, kind or failure", d)
		}
		if out.Delivery.Status != "succeeded" || out.Delivery.Failure != "" {
			t.Errorf("resend answered %+v, want succeeded without failure", out.Delivery)
		}
		if got := list("failure=definition"); len(got) != 0 {
			t.Errorf("?failure=definition after the resend: %+v, want none", got)
		}
	})
}
