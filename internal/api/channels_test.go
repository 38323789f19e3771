package api_test

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestDeliveriesByChannel: the delivery lists filter by the event's
// channel, and the app's channels are listed for a customer to pick
// from, the latest first. Real receiver.
func TestDeliveriesByChannel(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Forms", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "form.first_submit"}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "event_types": []string{"form.first_submit"}}, nil, 201)
	send := func(channels ...string) string {
		t.Helper()
		var ev struct{ ID string }
		body := map[string]any{"event_type": "form.first_submit", "payload": map[string]any{}}
		if channels != nil {
			body["channels"] = channels
		}
		s.MustDo("POST", "/v1/apps/acme/events", body, &ev, 202)
		return ev.ID
	}
	a := send("form_a")
	b := send("form_b", "form_a")
	send()
	c := send("form_c")
	rc.Wait(t, 4, 10*time.Second)
	list := func(path string) []string {
		t.Helper()
		var pg struct {
			Data []struct {
				EventID string `json:"event_id"`
			}
		}
		s.MustDo("GET", path, nil, &pg, 200)
		var ids []string
		for _, d := range pg.Data {
			ids = append(ids, d.EventID)
		}
		return ids
	}
	if got := list("/v1/apps/acme/deliveries?channel=form_a"); !slices.Equal(got, []string{b, a}) {
		t.Errorf("app deliveries of form_a: %v, want %v", got, []string{b, a})
	}
	if got := list("/v1/deliveries?channel=form_c"); !slices.Equal(got, []string{c}) {
		t.Errorf("all deliveries of form_c: %v", got)
	}
	if got := list("/v1/apps/acme/deliveries?channel=form"); len(got) != 0 {
		t.Errorf("a channel prefix matched: %v", got)
	}
	var chs struct {
		Data    []string `json:"data"`
		Scanned int      `json:"scanned"`
	}
	s.MustDo("GET", "/v1/apps/acme/channels", nil, &chs, 200)
	if !slices.Equal(chs.Data, []string{"form_c", "form_b", "form_a"}) || chs.Scanned != 4 {
		t.Errorf("channels: %+v", chs)
	}
}
