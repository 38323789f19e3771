// Package duration parses the durations Herald's settings take: those of
// time.ParseDuration (30s, 5m, 1h30m) and days, written d (30d, 1d12h,
// 1.5d), since retention and retry windows are thought of in days and
// 720h is easy to misread. A day is 24 hours: settings measure elapsed
// time, not calendar days.
package duration

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Day is the length of the d unit.
const Day = 24 * time.Hour

// Parse reads s as a duration: anything time.ParseDuration reads, where a
// leading number of days (30d, 1.5d) may come first, alone or followed by
// smaller units (1d12h). A bare 0 is zero.
func Parse(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	neg := false
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		neg, s = true, rest
	} else {
		s = strings.TrimPrefix(s, "+")
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil || n < 0 || s[:i] == "" || strings.ContainsAny(s[:i], "eEnNiI+-") {
			return 0, errSyntax(orig)
		}
		if n*float64(Day) > float64(1<<63-1) {
			return 0, fmt.Errorf("%q is too long a duration", orig)
		}
		days = time.Duration(n * float64(Day))
		s = s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, errSyntax(orig)
		}
		rest = d
	} else if days == 0 && !strings.Contains(orig, "d") {
		return 0, errSyntax(orig)
	}
	total := days + rest
	if total < days {
		return 0, fmt.Errorf("%q is too long a duration", orig)
	}
	if neg {
		total = -total
	}
	return total, nil
}

func errSyntax(s string) error {
	return fmt.Errorf("%q is not a duration like 30s, 5m, 2h or 30d", s)
}
