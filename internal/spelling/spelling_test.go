package spelling_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/spelling"
)

func TestOneEdit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"name", "nme", true},    // deletion
		{"name", "names", true},  // insertion
		{"name", "nane", true},   // substitution
		{"name", "nmae", true},   // swap
		{"name", "name", false},  // equal
		{"name", "mane", false},  // two substitutions
		{"name", "nmaes", false}, // swap and insertion
		{"retention", "retension", true},
		{"", "a", true},
		{"ab", "ba", true},
		{"abc", "cba", false},
		{"名前", "名", true},
	} {
		if got := spelling.OneEdit(c.a, c.b); got != c.want {
			t.Errorf("OneEdit(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	t.Parallel()
	names := []string{"event_type", "event_types", "payload"}
	for in, want := range map[string]string{"evnt_type": "event_type", "Event_Tipes": "event_types", "paylaod": "payload", "color": "", "event_type": "event_types", "Payload": "payload"} {
		if got := spelling.Closest(in, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}
