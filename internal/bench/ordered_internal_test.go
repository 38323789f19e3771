package bench

import "testing"

// The order check flags an event whose key's previous event was accepted
// but has not arrived, and only that.
func TestOrderedRecordFlagsOutOfOrder(t *testing.T) {
	s := newStream("t", 6, 1)
	s.keys = 2
	for seq := range 6 {
		s.accepted[seq].Store(1)
	}
	s.record(0, 0, 10) // k0 first
	s.record(0, 2, 11) // k0 after 0
	s.record(0, 3, 12) // k1: 1 not arrived yet
	s.record(0, 1, 13)
	s.record(0, 1, 14) // a duplicate is not an arrival
	if got := s.outOfOrder.Load(); got != 1 {
		t.Fatalf("out of order: %d, want 1 (event 3 before 1)", got)
	}
	if s.dups.Load() != 1 || s.unique.Load() != 4 {
		t.Fatalf("dups %d unique %d, want 1 and 4", s.dups.Load(), s.unique.Load())
	}
}
