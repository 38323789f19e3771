package herald_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/oklog/ulid/v2"
)

// TestIDAt: herald.IDAt(t) sorts after every id made before t's millisecond and
// not after any made within it or later.
func TestIDAt(t *testing.T) {
	tm := time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.UTC)
	at := herald.IDAt(herald.PrefixDelivery, tm)
	if !strings.HasPrefix(at, herald.PrefixDelivery) || at != strings.ToLower(at) || len(at) != len(herald.NewID(herald.PrefixDelivery)) {
		t.Fatalf("IDAt: %q", at)
	}
	mk := func(t time.Time, entropy byte) string {
		e := bytes.NewReader(bytes.Repeat([]byte{entropy}, 10))
		return herald.PrefixDelivery + strings.ToLower(ulid.MustNew(ulid.Timestamp(t), e).String())
	}
	for _, c := range []struct {
		t     time.Time
		after bool
	}{
		{tm.Truncate(time.Millisecond), true},
		{tm, true},
		{tm.Add(time.Millisecond), true},
		{tm.Add(24 * time.Hour), true},
		{tm.Truncate(time.Millisecond).Add(-time.Nanosecond), false},
		{tm.Add(-time.Hour), false},
	} {
		for _, e := range []byte{0, 0x7f, 0xff} {
			id := mk(c.t, e)
			if (id >= at) != c.after {
				t.Errorf("id %s of %v (entropy %#x) >= IDAt %s: %v, want %v", id, c.t, e, at, id >= at, c.after)
			}
		}
	}
	if got := herald.IDAt(herald.PrefixDelivery, time.Unix(-1, 0)); got != herald.PrefixDelivery {
		t.Errorf("IDAt before 1970: %q, want the bare prefix", got)
	}
}
