package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// versionedType creates an event type with three versions: the first
// ({"name"}), 2026-06-01 ({"full_name"}) and 2026-11-01
// ({"person": {"full_name"}}), each converter leading one step down.
func versionedType(t *testing.T, s *heraldtest.Server) string {
	t.Helper()
	name := fmt.Sprintf("t%d.order.created", rand.Uint32())
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": name,
		"schema": map[string]any{"type": "object", "required": []string{"name"}}}, nil, 201)
	s.MustDo("POST", "/v1/event-types/"+name+"/versions", map[string]any{
		"version":   "2026-06-01",
		"schema":    map[string]any{"type": "object", "required": []string{"full_name"}},
		"sample":    map[string]any{"full_name": "Ada"},
		"converter": `function convert(p) { return {name: p.full_name} }`,
	}, nil, 201)
	s.MustDo("POST", "/v1/event-types/"+name+"/versions", map[string]any{
		"version":   "2026-11-01",
		"schema":    map[string]any{"type": "object", "required": []string{"person"}},
		"converter": `function convert(p) { if (p.person.full_name === "boom") throw new Error("no name to convert"); return {full_name: p.person.full_name} }`,
	}, nil, 201)
	return name
}

// pinnedEndpoint creates an endpoint of app acme for typ, pinned to
// version (not pinned when nil), and returns its receiver.
func pinnedEndpoint(t *testing.T, s *heraldtest.Server, typ string, version *string) *heraldtest.Receiver {
	t.Helper()
	rc := heraldtest.NewReceiver(t, nil)
	body := map[string]any{"url": rc.URL, "event_types": []string{typ}}
	if version != nil {
		body["event_type_versions"] = map[string]string{typ: *version}
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", body, nil, 201)
	return rc
}

func sendVersion(t *testing.T, s *heraldtest.Server, typ string, version *string, payload any) string {
	t.Helper()
	body := map[string]any{"event_type": typ, "payload": payload}
	if version != nil {
		body["version"] = *version
	}
	var ev struct{ ID, Version string }
	s.MustDo("POST", "/v1/apps/acme/events", body, &ev, 202)
	return ev.ID
}

func ptr(s string) *string { return &s }

// TestVersionedEventTypes: an endpoint pinned to an older version
// receives the event converted down through each converter in between,
// an unpinned one the shape it was sent as, a throwing converter fails
// the delivery with error_kind transform, and bad versions are refused
// naming the field; on both stores.
func TestVersionedEventTypes(t *testing.T) {
	pullStoresWith(t, func(c *config.Serve) {}, func(t *testing.T, s *heraldtest.Server) {
		s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)

		t.Run("converted", func(t *testing.T) {
			typ := versionedType(t, s)
			v1 := pinnedEndpoint(t, s, typ, ptr(""))
			v2 := pinnedEndpoint(t, s, typ, ptr("2026-06-01"))
			latest := pinnedEndpoint(t, s, typ, nil)

			// A v2 event: the v1 endpoint gets the v1 shape.
			sendVersion(t, s, typ, ptr("2026-06-01"), map[string]any{"full_name": "Ada"})
			got := v1.Wait(t, 1, 10*time.Second)[0]
			if string(got.Body) == "" || !strings.Contains(string(got.Body), `"data":{"name":"Ada"}`) || strings.Contains(string(got.Body), `"version"`) {
				t.Fatalf("v1 endpoint got %s", got.Body)
			}
			if h := got.Header.Get("Webhook-Version"); h != "" {
				t.Fatalf("v1 endpoint got Webhook-Version %q", h)
			}
			got = v2.Wait(t, 1, 10*time.Second)[0]
			if !strings.Contains(string(got.Body), `"version":"2026-06-01"`) || !strings.Contains(string(got.Body), `"data":{"full_name":"Ada"}`) ||
				got.Header.Get("Webhook-Version") != "2026-06-01" {
				t.Fatalf("v2 endpoint got %s %v", got.Body, got.Header)
			}
			latest.Wait(t, 1, 10*time.Second)

			// A v3 event (the latest, by default): through two
			// converters for v1, one for v2, none unpinned.
			sendVersion(t, s, typ, nil, map[string]any{"person": map[string]any{"full_name": "Grace"}})
			got = v1.Wait(t, 2, 10*time.Second)[1]
			var env struct {
				Type, Version string
				Data          json.RawMessage
			}
			if err := json.Unmarshal(got.Body, &env); err != nil || env.Type != typ || env.Version != "" || string(env.Data) != `{"name":"Grace"}` {
				t.Fatalf("v1 endpoint got %s (%v)", got.Body, err)
			}
			got = v2.Wait(t, 2, 10*time.Second)[1]
			if err := json.Unmarshal(got.Body, &env); err != nil || env.Version != "2026-06-01" || string(env.Data) != `{"full_name":"Grace"}` {
				t.Fatalf("v2 endpoint got %s (%v)", got.Body, err)
			}
			got = latest.Wait(t, 2, 10*time.Second)[1]
			if err := json.Unmarshal(got.Body, &env); err != nil || env.Version != "2026-11-01" || string(env.Data) != `{"person":{"full_name":"Grace"}}` ||
				got.Header.Get("Webhook-Version") != "2026-11-01" {
				t.Fatalf("unpinned endpoint got %s %v (%v)", got.Body, got.Header, err)
			}

			// An event older than the pin goes as sent.
			sendVersion(t, s, typ, ptr(""), map[string]any{"name": "Old"})
			got = v2.Wait(t, 3, 10*time.Second)[2]
			env.Version = ""
			if err := json.Unmarshal(got.Body, &env); err != nil || env.Version != "" || string(env.Data) != `{"name":"Old"}` {
				t.Fatalf("v2 endpoint got the v1 event as %s (%v)", got.Body, err)
			}

			// The catalog counts the pins.
			var et struct {
				LatestVersion   string         `json:"latest_version"`
				PinnedEndpoints map[string]int `json:"pinned_endpoints"`
				Versions        []struct {
					Version   string
					Endpoints int
				}
			}
			s.MustDo("GET", "/v1/event-types/"+typ, nil, &et, 200)
			if et.LatestVersion != "2026-11-01" || len(et.Versions) != 2 || et.Versions[0].Endpoints != 1 || et.Versions[1].Endpoints != 0 ||
				et.PinnedEndpoints[""] != 1 {
				t.Fatalf("event type: %+v", et)
			}
		})

		t.Run("converter throws", func(t *testing.T) {
			typ := versionedType(t, s)
			rc := pinnedEndpoint(t, s, typ, ptr(""))
			evID := sendVersion(t, s, typ, nil, map[string]any{"person": map[string]any{"full_name": "boom"}})
			d := s.WaitDelivery(evID, "failed", 1, 10*time.Second)
			if a := d.Attempts[0]; a.ErrorKind != "transform" || !strings.Contains(a.Error, "no name to convert") ||
				!strings.Contains(a.Error, "2026-11-01") || a.Response != nil {
				t.Fatalf("attempt %+v", a)
			}
			// The endpoint still gets the next event.
			sendVersion(t, s, typ, nil, map[string]any{"person": map[string]any{"full_name": "Ada"}})
			if got := rc.Wait(t, 1, 10*time.Second); !strings.Contains(string(got[0].Body), `{"name":"Ada"}`) {
				t.Fatalf("receiver got %s", got[0].Body)
			}
		})

		t.Run("validation", func(t *testing.T) {
			typ := versionedType(t, s)
			var ee struct {
				Error struct{ Code, Field, Message string }
			}
			e := &ee.Error
			check := func(what, method, path string, body any, status int, field string) {
				t.Helper()
				ee.Error.Field = ""
				if got := s.Invalid().Do(method, path, body, &ee); got != status {
					t.Errorf("%s: status %d (%+v), want %d", what, got, ee.Error, status)
				} else if e.Field != field {
					t.Errorf("%s: field %q (%s), want %q", what, e.Field, e.Message, field)
				}
			}
			check("unknown version", "POST", "/v1/apps/acme/events", map[string]any{"event_type": typ, "version": "2030-01-01", "payload": map[string]any{}}, 422, "version")
			check("payload of another version", "POST", "/v1/apps/acme/events", map[string]any{"event_type": typ, "version": "2026-06-01", "payload": map[string]any{"name": "x"}}, 422, "payload")
			check("pin to an unknown version", "POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://127.0.0.1:9/x", "event_types": []string{typ},
				"event_type_versions": map[string]string{typ: "nope"}}, 422, "event_type_versions."+typ)
			check("pin of an unknown type", "POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://127.0.0.1:9/x",
				"event_type_versions": map[string]string{"no.such.type": ""}}, 422, "event_type_versions.no.such.type")
			check("duplicate version", "POST", "/v1/event-types/"+typ+"/versions", map[string]any{"version": "2026-11-01", "converter": "function convert(p) { return p }"}, 409, "version")
			check("older date", "POST", "/v1/event-types/"+typ+"/versions", map[string]any{"version": "2026-01-01", "converter": "function convert(p) { return p }"}, 422, "version")
			check("bad name", "POST", "/v1/event-types/"+typ+"/versions", map[string]any{"version": "two words", "converter": "function convert(p) { return p }"}, 422, "version")
			check("no converter", "POST", "/v1/event-types/"+typ+"/versions", map[string]any{"version": "v4"}, 422, "converter")
			check("converter syntax", "POST", "/v1/event-types/"+typ+"/versions", map[string]any{"version": "v4", "converter": "function convert(p) {"}, 422, "converter")
			check("sample against schema", "POST", "/v1/event-types/"+typ+"/versions", map[string]any{"version": "v4", "converter": "function convert(p) { return p }",
				"schema": map[string]any{"type": "object", "required": []string{"x"}}, "sample": map[string]any{}}, 422, "sample")
			check("delete a middle version", "DELETE", "/v1/event-types/"+typ+"/versions/2026-06-01", nil, 409, "version")

			var list struct {
				Data          []struct{ Version string }
				LatestVersion string `json:"latest_version"`
			}
			s.MustDo("GET", "/v1/event-types/"+typ+"/versions", nil, &list, 200)
			if len(list.Data) != 3 || list.Data[0].Version != "" || list.Data[2].Version != "2026-11-01" || list.LatestVersion != "2026-11-01" {
				t.Fatalf("versions: %+v", list)
			}
			s.MustDo("DELETE", "/v1/event-types/"+typ+"/versions/2026-11-01", nil, nil, 204)
			s.MustDo("GET", "/v1/event-types/"+typ+"/versions/2026-11-01", nil, nil, 404)
			s.MustDo("GET", "/v1/event-types/"+typ+"/versions", nil, &list, 200)
			if list.LatestVersion != "2026-06-01" {
				t.Fatalf("after deleting the latest: %+v", list)
			}
		})
	})
}
