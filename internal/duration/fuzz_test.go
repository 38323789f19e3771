package duration_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/duration"
)

// FuzzParse: durations come from flags, variables and configuration
// files. Never panics; what it accepts prints (time.Duration.String) to a
// text that parses to the same duration.
func FuzzParse(f *testing.F) {
	f.Add("30d")      // retention in days
	f.Add("1d12h")    // days then hours
	f.Add("1.5d")     // a fraction of a day
	f.Add("720h")     // what time.ParseDuration takes
	f.Add("-1d")      // negative, refused by the settings that check
	f.Add("106751d")  // about the longest time.Duration
	f.Add("106752d")  // beyond it
	f.Add("1e3d")     // exponents are not durations
	f.Add("d")        // a unit alone
	f.Add("0")        // zero without a unit
	f.Add("1h1d")     // days after hours
	f.Add("\u00a01d") // a non-breaking space before
	f.Fuzz(func(t *testing.T, s string) {
		d, err := duration.Parse(s)
		if err != nil {
			return
		}
		again, err := duration.Parse(d.String())
		if err != nil || again != d {
			t.Fatalf("Parse(%q) = %v; printed and parsed again: %v, %v", s, d, again, err)
		}
	})
}
