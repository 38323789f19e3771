package duration_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/duration"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"30s", 30 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"720h", 30 * 24 * time.Hour},
		{"30d", 30 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"0d", 0},
		{" 2d ", 48 * time.Hour},
		{"-1d", -24 * time.Hour},
		{"1d30m15s", 24*time.Hour + 30*time.Minute + 15*time.Second},
	} {
		got, err := duration.Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "d", "5", "5x", "1d-2h", "1dd", "d5h", "1e3d", "Infd", "NaNd", "1h1d", "200000000d", "+-1d"} {
		if got, err := duration.Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, got)
		}
	}
}
