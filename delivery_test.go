package herald_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// TestDeliveryFailureJSON: a failed delivery's JSON says whether its
// definition (render, transform) or its destination failed; one that did
// not fail says neither. HTML escaping stays the encoder's choice.
func TestDeliveryFailureJSON(t *testing.T) {
	for _, c := range []struct {
		status herald.DeliveryStatus
		kind   herald.ErrorKind
		want   string
	}{
		{herald.StatusFailed, herald.ErrorKindRender, `"failure":"definition"`},
		{herald.StatusFailed, herald.ErrorKindTransform, `"failure":"definition"`},
		{herald.StatusFailed, herald.ErrorKindHTTPStatus, `"failure":"destination"`},
		{herald.StatusFailed, herald.ErrorKindNone, `"failure":"destination"`},
		{herald.StatusPending, herald.ErrorKindRender, ``},
		{herald.StatusSucceeded, herald.ErrorKindNone, ``},
	} {
		d := herald.Delivery{ID: "dlv_1", Status: c.status, LastErrorKind: c.kind, LastError: "<b> & co"}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&d); err != nil {
			t.Fatal(err)
		}
		got := buf.String()
		if c.want == "" && strings.Contains(got, `"failure"`) || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s %q: %s, want %q", c.status, c.kind, got, c.want)
		}
		if !strings.Contains(got, `"last_error":"<b> & co"`) {
			t.Errorf("unescaped encoder: %s", got)
		}
		if c.kind != "" && !strings.Contains(got, `"last_error_kind":"`+string(c.kind)+`"`) {
			t.Errorf("%s: no last_error_kind in %s", c.kind, got)
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"last_error":"\u003cb\u003e \u0026 co"`) {
			t.Errorf("json.Marshal: %s, want HTML escaped", b)
		}
	}
}
