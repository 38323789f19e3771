package delivery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/delivery"
)

// FuzzParseSchedule: a retry schedule comes from an app's or an endpoint's
// settings. Never panics; what it accepts has one non-negative wait per
// comma-separated item, and printing the waits gives a schedule that
// parses to the same waits.
func FuzzParseSchedule(f *testing.F) {
	f.Add(delivery.DefaultRetrySchedule)     // the installation's default
	f.Add(" 1s , 2m ")                       // spaces around items
	f.Add("1h30m,90m,1.5h")                  // the same wait written three ways
	f.Add("0s,0")                            // no wait at all
	f.Add("500ms,1us,1µs,1ns")               // units below a second
	f.Add("2562047h47m16.854775807s")        // the longest time.Duration
	f.Add("2562047h47m16.854775808s")        // one nanosecond too long
	f.Add("-1s")                             // negative
	f.Add("5s,,1m")                          // an empty item
	f.Add("5")                               // a number without a unit
	f.Add(",")                               // only a separator
	f.Add(strings.Repeat("1s,", 100) + "1s") // many retries
	f.Add("1\u00a0s")                        // a non-breaking space inside
	f.Add("1d,1.5d,1d12h")                   // days, as the flags take them
	f.Fuzz(func(t *testing.T, s string) {
		got, err := delivery.ParseSchedule(s)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseSchedule(%q) = %v with error %v", s, got, err)
			}
			return
		}
		if strings.TrimSpace(s) == "" {
			if len(got) != 0 {
				t.Fatalf("blank schedule %q gave %v", s, got)
			}
			return
		}
		if n := len(strings.Split(s, ",")); len(got) != n {
			t.Fatalf("ParseSchedule(%q) gave %d waits for %d items", s, len(got), n)
		}
		printed := make([]string, len(got))
		for i, d := range got {
			if d < 0 {
				t.Fatalf("ParseSchedule(%q) accepted the negative wait %v", s, d)
			}
			printed[i] = d.String()
		}
		again, err := delivery.ParseSchedule(strings.Join(printed, ","))
		if err != nil {
			t.Fatalf("printed schedule %q of %q does not parse: %v", printed, s, err)
		}
		if !equalDurations(again, got) {
			t.Fatalf("ParseSchedule(%q) = %v, printed and parsed again %v", s, got, again)
		}
	})
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
