package delivery

import "testing"

func TestBudgetCaps(t *testing.T) {
	t.Parallel()
	b := newBudget(2, 3)
	for i, want := range []bool{true, true, false} {
		if got := b.tryReserve("a"); got != want {
			t.Fatalf("reserve %d of a: %v, want %v (2 per endpoint)", i+1, got, want)
		}
	}
	if !b.tryReserve("b") {
		t.Fatal("b refused while the total has room")
	}
	// The total (3) is full even though c has none.
	if b.tryReserve("c") {
		t.Fatal("c admitted past the total cap")
	}
	if per, total := b.room("a"); per != 0 || total != 0 {
		t.Fatalf("room of a: %d per endpoint, %d total; want 0, 0", per, total)
	}
	if per, total := b.room("c"); per != 2 || total != 0 {
		t.Fatalf("room of c: %d per endpoint, %d total; want 2, 0", per, total)
	}
	b.release("a")
	if per, total := b.room("a"); per != 1 || total != 1 {
		t.Fatalf("room of a after a release: %d, %d; want 1, 1", per, total)
	}
	if !b.tryReserve("c") {
		t.Fatal("c refused after a release made room")
	}
	// A claimed delivery is already leased: it is counted past the caps.
	b.force("a")
	b.force("a")
	if per, total := b.room("a"); per != -1 || total != -2 {
		t.Fatalf("room of a after forcing: %d, %d; want -1, -2", per, total)
	}
	for range 3 {
		b.release("a")
	}
	b.release("b")
	b.release("c")
	if b.total != 0 || len(b.count) != 0 {
		t.Fatalf("after releasing everything: total %d, counts %v", b.total, b.count)
	}
}

func TestBudgetSpillGenerations(t *testing.T) {
	t.Parallel()
	b := newBudget(1, 10)
	if g := b.spillGen("a"); g != 0 {
		t.Fatalf("a spilled before anything happened: %d", g)
	}
	b.tryReserve("a")
	if g := b.spillGen("a"); g != 0 {
		t.Fatal("an admitted delivery marked its endpoint spilled")
	}
	b.tryReserve("a") // over a's cap: left in the store
	g1 := b.spillGen("a")
	if g1 == 0 {
		t.Fatal("a refused delivery did not mark its endpoint spilled")
	}
	if b.spillGen("b") != 0 {
		t.Fatal("a spill of a marked b")
	}

	// A claim that started at g1 and found the store empty clears the
	// mark when nothing spilled meanwhile...
	b.clearSpilled("a", g1)
	if b.spillGen("a") != 0 {
		t.Fatal("clearSpilled at the current generation kept the mark")
	}

	// ...but not when a spill happened during the claim: that delivery
	// is in the store and must still be fetched.
	b.tryReserve("a")
	g2 := b.spillGen("a")
	b.tryReserve("a")
	g3 := b.spillGen("a")
	if g3 <= g2 {
		t.Fatalf("generation did not grow on a second spill: %d then %d", g2, g3)
	}
	b.clearSpilled("a", g2)
	if b.spillGen("a") != g3 {
		t.Fatal("a stale claim cleared a newer spill")
	}

	// markSpilled (recoveries, re-enabled endpoints) bumps it too.
	b.markSpilled("a")
	g4 := b.spillGen("a")
	b.clearSpilled("a", g3)
	if g4 <= g3 || b.spillGen("a") != g4 {
		t.Fatalf("markSpilled: generation %d after %d, mark %d", g4, g3, b.spillGen("a"))
	}
	b.clearSpilled("a", g4)
	if b.spillGen("a") != 0 {
		t.Fatal("mark kept after a claim at its generation")
	}
}
