package delivery

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

func TestBudgetCaps(t *testing.T) {
	t.Parallel()
	b := newBudget(2, 3, 0)
	for i, want := range []bool{true, true, false} {
		if got := b.tryReserve("a", nil); got != want {
			t.Fatalf("reserve %d of a: %v, want %v (2 per endpoint)", i+1, got, want)
		}
	}
	if !b.tryReserve("b", nil) {
		t.Fatal("b refused while the total has room")
	}
	// The total (3) is full even though c has none.
	if b.tryReserve("c", nil) {
		t.Fatal("c admitted past the total cap")
	}
	if per, total := b.room("a"); per != 0 || total != 0 {
		t.Fatalf("room of a: %d per endpoint, %d total; want 0, 0", per, total)
	}
	if per, total := b.room("c"); per != 2 || total != 0 {
		t.Fatalf("room of c: %d per endpoint, %d total; want 2, 0", per, total)
	}
	b.release("a", nil)
	if per, total := b.room("a"); per != 1 || total != 1 {
		t.Fatalf("room of a after a release: %d, %d; want 1, 1", per, total)
	}
	if !b.tryReserve("c", nil) {
		t.Fatal("c refused after a release made room")
	}
	// A claimed delivery is already leased: it is counted past the caps.
	b.force("a", nil)
	b.force("a", nil)
	if per, total := b.room("a"); per != -1 || total != -2 {
		t.Fatalf("room of a after forcing: %d, %d; want -1, -2", per, total)
	}
	for range 3 {
		b.release("a", nil)
	}
	b.release("b", nil)
	b.release("c", nil)
	if b.total != 0 || len(b.count) != 0 {
		t.Fatalf("after releasing everything: total %d, counts %v", b.total, b.count)
	}
}

func TestBudgetSpillGenerations(t *testing.T) {
	t.Parallel()
	b := newBudget(1, 10, 0)
	if g := b.spillGen("a"); g != 0 {
		t.Fatalf("a spilled before anything happened: %d", g)
	}
	b.tryReserve("a", nil)
	if g := b.spillGen("a"); g != 0 {
		t.Fatal("an admitted delivery marked its endpoint spilled")
	}
	b.tryReserve("a", nil) // over a's cap: left in the store
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
	b.tryReserve("a", nil)
	g2 := b.spillGen("a")
	b.tryReserve("a", nil)
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

func TestBudgetBytes(t *testing.T) {
	t.Parallel()
	payload := func(n int) *herald.Event {
		return &herald.Event{Payload: herald.RawJSON(`"` + strings.Repeat("x", n-2) + `"`)}
	}
	big := payload(100_000)
	per := jobOverhead + payloadSize(big)
	// Half the budget holds queued deliveries: room for two payloads and
	// the fan-out below.
	b := newBudget(1000, 1000, 4*per+8*jobOverhead+20)
	// Fan-out: the deliveries of one event share its payload, counted once.
	for range 5 {
		if !b.tryReserve("a", big) {
			t.Fatal("a delivery of an event already held was refused")
		}
	}
	if _, mem := b.held(); mem != per+4*jobOverhead {
		t.Fatalf("held %d bytes for 5 deliveries of one event, want %d", mem, per+4*jobOverhead)
	}
	other, third := payload(100_000), payload(100_000)
	if !b.tryReserve("b", other) {
		t.Fatal("second payload refused with room for it")
	}
	if b.tryReserve("c", third) {
		t.Fatal("third payload admitted past the byte budget")
	}
	if b.spillGen("c") == 0 {
		t.Fatal("a delivery refused for memory did not mark its endpoint spilled")
	}
	b.release("b", other)
	if !b.tryReserve("c", third) {
		t.Fatal("refused after a release made room")
	}
	b.release("c", third)
	for range 5 {
		b.release("a", big)
	}
	if n, mem := b.held(); n != 0 || mem != 0 || len(b.payloads) != 0 {
		t.Fatalf("after releasing everything: %d deliveries, %d bytes, %d payloads", n, mem, len(b.payloads))
	}
	// One delivery larger than the whole budget goes alone.
	huge := payload(int(b.memCap) * 2)
	if !b.tryReserve("a", huge) {
		t.Fatal("a payload over the budget was refused with nothing held: it could never go out")
	}
	if b.tryReserve("b", payload(10)) {
		t.Fatal("admitted beside a payload already over the budget")
	}
	// A slow endpoint's cap holds below the per-endpoint cap.
	b.release("a", huge)
	b.setSlowCap("s", 1)
	if !b.tryReserve("s", payload(10)) || b.tryReserve("s", payload(10)) {
		t.Fatal("slow cap of 1 not applied")
	}
	b.setSlowCap("s", -1)
	if !b.tryReserve("s", payload(10)) {
		t.Fatal("slow cap not lifted")
	}
}

// Half the memory budget is kept for the request bodies of the
// requests in flight: beyond it the next request waits for one to end,
// though one always goes when none is being sent.
func TestBudgetRender(t *testing.T) {
	t.Parallel()
	ev := &herald.Event{Payload: herald.RawJSON(`"` + strings.Repeat("x", 100_000) + `"`)}
	size := payloadSize(ev)
	b := newBudget(1000, 1000, 8*size+100)
	for i := range 4 {
		if !b.tryRender(ev) {
			t.Fatalf("request body %d refused with room for four", i+1)
		}
	}
	if b.tryRender(ev) {
		t.Fatal("a fifth request body admitted past half the budget")
	}
	b.doneRender(ev)
	if !b.tryRender(ev) {
		t.Fatal("refused after one ended")
	}
	for range 4 {
		b.doneRender(ev)
	}
	huge := &herald.Event{Payload: herald.RawJSON(`"` + strings.Repeat("x", 1_000_000) + `"`)}
	if !b.tryRender(huge) {
		t.Fatal("a request body larger than the share refused with none being sent: it could never go")
	}
	b.doneRender(huge)
	if _, mem := b.held(); mem != 0 {
		t.Fatalf("%d bytes still counted", mem)
	}
	// Queued deliveries get the other half.
	n := 0
	for b.tryReserve("a", &herald.Event{Payload: herald.RawJSON(`"` + strings.Repeat("x", 100_000) + `"`)}) {
		n++
	}
	if n != 3 {
		t.Fatalf("%d deliveries of 100 KB admitted in 4 × 100 KB (half of 8), want 3 (each with its overhead)", n)
	}
}
