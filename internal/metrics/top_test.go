package metrics

import (
	"fmt"
	"testing"
	"time"
)

// The first n keys take the free places; past them keys go under other;
// each minute the n keys with the most attempts over the last five minutes
// are named again, a key leaving has its series dropped, and at most n
// keys are ever named.
func TestTopRanking(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var dropped []string
	tp := newTop(2, func() time.Time { return now }, func(k string) { dropped = append(dropped, k) })
	label := func(k string) string {
		var got string
		tp.observe(k, func(l string) { got = l })
		return got
	}
	for i, want := range []string{"a", "b", Other, Other} {
		k := string(rune('a' + i))
		if got := label(k); got != want {
			t.Fatalf("first %s: label %q, want %q", k, got, want)
		}
	}
	// c and d get busy; a and b fall silent.
	for range 10 {
		label("c")
		label("d")
	}
	now = now.Add(time.Minute)
	if got := label("c"); got != "c" {
		t.Fatalf("after the ranking c is %q, want c", got)
	}
	if got := label("a"); got != Other {
		t.Fatalf("after the ranking a is %q, want other", got)
	}
	if fmt.Sprint(dropped) != "[a b]" {
		t.Fatalf("dropped %v, want [a b]", dropped)
	}
	if len(tp.named) != 2 {
		t.Fatalf("named %v", tp.named)
	}
	// Five quiet minutes later the window forgot c and d: e, the only
	// key seen, is named.
	for range rankWindows {
		now = now.Add(time.Minute)
		label("e")
	}
	now = now.Add(time.Minute)
	if got := label("e"); got != "e" || len(tp.named) > 2 {
		t.Fatalf("e is %q, named %v", got, tp.named)
	}
	// An hour of silence: the windows forgot everything, e is dropped
	// and f, the first key seen again, takes a free place.
	now = now.Add(time.Hour)
	if got := label("f"); got != "f" || tp.named["e"] || len(tp.named) != 1 {
		t.Fatalf("after an hour f is %q, named %v, want f alone", got, tp.named)
	}
}
