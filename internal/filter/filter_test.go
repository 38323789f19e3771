package filter

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// decode decodes a payload the way Herald does, keeping numbers as
// json.Number.
func decode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

const samplePayload = `{
  "score": 51,
  "ratio": 50.5,
  "whole": 50.0,
  "big": 9007199254740993,
  "huge": 1e400,
  "negative": -3,
  "name": "Taro",
  "email": "taro@example.co.jp",
  "会社名": "ヘラルド株式会社",
  "user": {"plan": "pro", "seats": 12, "address": {"city": "Tokyo"}},
  "tags": ["vip", "beta"],
  "scores": [10, 20.5, 30],
  "items": [
    {"sku": "A-100", "qty": 2, "price": 1200},
    {"sku": "B-200", "qty": 1, "price": 980.5}
  ],
  "active": true,
  "note": null,
  "empty": {},
  "created_at": "2025-05-01T09:00:00+09:00"
}`

func sampleInput(t testing.TB) Input {
	return Input{
		Payload: decode(t, samplePayload),
		Event: EventInfo{
			ID:        "evt_01HX4Z9K7Q",
			Type:      "conversation_started",
			Timestamp: time.Date(2025, 5, 1, 0, 30, 0, 0, time.UTC),
		},
		App: AppInfo{ID: "app_1", UID: "acme", Name: "Acme 株式会社"},
	}
}

func TestMatch(t *testing.T) {
	in := sampleInput(t)
	tests := []struct {
		expr string
		want bool
	}{
		// Numbers: ints, doubles and json.Number mixes.
		{`payload.score > 50`, true},
		{`payload.score > 51`, false},
		{`payload.ratio > 50`, true},
		{`payload.ratio > 50.5`, false},
		{`payload.score == 51`, true},
		{`payload.score == 51.0`, true},
		{`payload.whole == 50`, true},
		{`payload.whole < 50.1`, true},
		{`payload.ratio >= 50 && payload.ratio < 51`, true},
		{`payload.big == 9007199254740993`, true}, // exact: not rounded through float64
		{`payload.big > 9007199254740992`, true},
		{`payload.huge > 1e300`, true},
		{`payload.negative < 0 && payload.negative == -3`, true},
		{`payload.user.seats * 2 == 24`, true},
		{`payload.scores[1] == 20.5`, true},
		{`payload.scores.exists(s, s > 25)`, true},
		{`payload.scores.all(s, s > 10)`, false},
		{`payload.items.map(i, double(i.qty) * double(i.price)).exists(t, t == 2400.0)`, true},
		{`20.5 in payload.scores`, true},
		{`30.0 in payload.scores`, true},
		{`int(payload.ratio) == 50`, true},
		{`double(payload.score) == 51.0`, true},

		// Strings.
		{`payload.name == "Taro"`, true},
		{`payload.name != "Taro"`, false},
		{`payload.email.endsWith("@example.co.jp")`, true},
		{`payload.email.contains("@")`, true},
		{`payload.name.matches("^T[a-z]+$")`, true},
		{`payload.name.lowerAscii() == "taro"`, true},
		{`payload.email.split("@")[1] == "example.co.jp"`, true},
		{`size(payload.name) == 4`, true},
		{`payload["会社名"] == "ヘラルド株式会社"`, true},
		{`payload["会社名"].startsWith("ヘラルド")`, true},

		// Nested maps, lists, in, has.
		{`payload.user.plan == "pro"`, true},
		{`payload.score > 50 && payload.user.plan == "pro"`, true},
		{`payload.score > 50 && payload.user.plan == "free"`, false},
		{`payload.user.address.city == "Tokyo"`, true},
		{`"vip" in payload.tags`, true},
		{`"gold" in payload.tags`, false},
		{`payload.tags[0] == "vip"`, true},
		{`size(payload.tags) == 2`, true},
		{`payload.items.exists(i, i.sku == "A-100" && i.qty >= 2)`, true},
		{`payload.items.exists_one(i, i.qty == 1)`, true},
		{`payload.items.filter(i, i.price > 1000).size() == 1`, true},
		{`"plan" in payload.user`, true},
		{`"会社名" in payload`, true},
		{`"phone" in payload`, false},
		{`has(payload.email)`, true},
		{`has(payload.phone)`, false},
		{`has(payload.user.plan)`, true},
		{`has(payload.user.address.zip)`, false},
		{`has(payload.company) && has(payload.company.name)`, false},
		{`!has(payload.plan) || payload.plan != "free"`, true},
		{`has(payload.phone) && payload.phone == "x"`, false},
		{`!has(payload.phone) || payload.phone == "x"`, true},
		{`has(payload.note) && payload.note == null`, true},
		{`payload.active`, true},
		{`payload.active && !payload.tags.exists(t, t == "blocked")`, true},
		{`size(payload.empty) == 0`, true},

		// Event and app.
		{`event.type.startsWith("conversation_")`, true},
		{`event.type.startsWith("message_")`, false},
		{`event.type in ["conversation_started", "conversation_closed"]`, true},
		{`event.id == "evt_01HX4Z9K7Q"`, true},
		{`app.uid == "acme"`, true},
		{`app.uid == "other"`, false},
		{`app.id == "app_1" && app.name.contains("株式会社")`, true},
		{`has(event.type)`, true},

		// Timestamps.
		{`event.timestamp > timestamp("2025-05-01T09:00:00+09:00")`, true},
		{`event.timestamp < timestamp("2025-05-01T00:00:00Z")`, false},
		{`event.timestamp.getFullYear() == 2025`, true},
		{`event.timestamp.getHours() == 0`, true},
		{`event.timestamp.getHours("+09:00") == 9`, true},
		{`event.timestamp - timestamp("2025-05-01T00:00:00Z") == duration("30m")`, true},
		{`timestamp(payload.created_at) < event.timestamp`, true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := Compile(tt.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := p.Match(context.Background(), in)
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMatchNativeNumbers covers payloads built in Go rather than decoded,
// and float64 numbers from a decoder without UseNumber.
func TestMatchNativeNumbers(t *testing.T) {
	p, err := Compile(`payload.score > 50 && payload.count == 3`)
	if err != nil {
		t.Fatal(err)
	}
	for _, payload := range []any{
		map[string]any{"score": 50.5, "count": 3},
		map[string]any{"score": int64(51), "count": 3.0},
		map[string]any{"score": json.Number("51"), "count": json.Number("3.0")},
		map[string]any{"score": json.Number("5.1e1"), "count": json.Number("3")},
	} {
		got, err := p.Match(context.Background(), Input{Payload: payload})
		if err != nil || !got {
			t.Errorf("payload %v: Match = %v, %v; want true", payload, got, err)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name      string
		expr      string
		line, col int
		msg       string // contained in Msg
	}{
		{"syntax", `payload.score >`, 1, 16, "Syntax error"},
		{"unbalanced", `(payload.score > 1`, 1, 19, "Syntax error"},
		{"empty", ``, 1, 1, "Syntax error"},
		{"undeclared", `payload.score > 50 && payloadd.x == 1`, 1, 23, "undeclared reference to 'payloadd'"},
		{"column in characters", `payload["会社名"] == "株式会社" && payloadd.x`, 1, 29, "undeclared reference to 'payloadd'"},
		{"undeclared on line 2", "payload.score > 50 &&\n  user.plan == \"pro\"", 2, 3, "undeclared reference to 'user'"},
		{"unknown event field", `event.tpye == "x"`, 1, 6, "undefined field 'tpye'"},
		{"unknown app field", `app.slug == "x"`, 1, 4, "undefined field 'slug'"},
		{"int result", `payload.score + 1`, 1, 1, "expression gives int"},
		{"string result", `  event.type`, 1, 3, "expression gives string"},
		{"list result", `payload.tags.map(t, t == "vip")`, 1, 1, "expression gives list(bool)"},
		{"wrong argument type", `event.type.startsWith(1)`, 1, 22, "no matching overload"},
		{"unknown function", `payload.name.shout()`, 1, 19, "undeclared reference to 'shout'"},
		{"too long", "payload.name == \"" + strings.Repeat("a", MaxLength) + "\"", 1, MaxLength + 1, "limit is 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.expr)
			if err == nil {
				t.Fatalf("Compile succeeded (%q), want an error", p.Source())
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v, want *CompileError", err, err)
			}
			if ce.Line != tt.line || ce.Col != tt.col {
				t.Errorf("position = %d:%d, want %d:%d (%v)", ce.Line, ce.Col, tt.line, tt.col, err)
			}
			if !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("Msg = %q, want it to contain %q", ce.Msg, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "filter: line ") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

func TestCompileErrorString(t *testing.T) {
	_, err := Compile(`payload.score > 50 && payloadd.plan == "pro"`)
	want := "filter: line 1, column 23: undeclared reference to 'payloadd'"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want it to start with %q", err, want)
	}
}

func TestMaxLengthCountsCharacters(t *testing.T) {
	// 4096 characters of Japanese text is over 4096 bytes but within the limit.
	expr := `payload.name == "` + strings.Repeat("名", MaxLength-len(`payload.name == ""`)) + `"`
	if _, err := Compile(expr); err != nil {
		t.Fatalf("Compile of %d characters: %v", len([]rune(expr)), err)
	}
}

func TestMatchErrors(t *testing.T) {
	in := sampleInput(t)
	tests := []struct {
		name string
		expr string
		msg  string
	}{
		{"missing key", `payload.phone == "x"`, "no such key: phone"},
		{"missing nested key", `payload.user.address.zip == "100"`, "no such key: zip"},
		{"missing parent", `has(payload.company.name)`, "no such key: company"},
		{"index out of range", `payload.tags[5] == "x"`, "index out of bounds"},
		{"string compared with int", `payload.name > 5`, "no such overload"},
		{"field of a string", `payload.name.first == "T"`, "no such key"},
		{"int times double", `payload.score * payload.ratio > 1`, "no such overload"},
		{"non-bool value", `payload.score`, "expression gave int"},
		{"null value", `payload.note`, "expression gave null_type"},
		{"division by zero", `payload.score / 0 == 1`, "division by zero"},
		{"bad timestamp", `timestamp(payload.name) > event.timestamp`, "timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := p.Match(context.Background(), in)
			if err == nil {
				t.Fatalf("Match = %v, nil; want an error", got)
			}
			if got {
				t.Errorf("Match = true with error %v", err)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "filter: ") {
				t.Errorf("error %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}

func TestCostLimit(t *testing.T) {
	items := make([]any, 1000)
	for i := range items {
		items[i] = json.Number("1")
	}
	in := Input{Payload: map[string]any{"items": items}}

	p, err := Compile(`payload.items.all(x, payload.items.all(y, payload.items.all(z, true)))`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Match(context.Background(), in)
	if err == nil {
		t.Fatalf("Match = %v, nil; want a cost error", got)
	}
	if !errors.Is(err, ErrCost) || !strings.Contains(err.Error(), "cost") {
		t.Errorf("error %q, want ErrCost", err)
	}

	// One pass over the same list stays well inside the limit.
	p, err = Compile(`payload.items.all(x, x == 1)`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Match(context.Background(), in); err != nil || !got {
		t.Errorf("single loop: Match = %v, %v; want true, nil", got, err)
	}
}

func TestContextCancelled(t *testing.T) {
	p, err := Compile(`payload.score > 50`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := p.Match(ctx, sampleInput(t))
	if got || !errors.Is(err, context.Canceled) {
		t.Errorf("Match = %v, %v; want false, context.Canceled", got, err)
	}
}

// lateCancelCtx is a context that reports itself live to Match's first
// check and cancelled from then on, to show that a cancellation during an
// evaluation stops it.
type lateCancelCtx struct {
	context.Context
	done  chan struct{}
	calls atomic.Int32
}

func (c *lateCancelCtx) Done() <-chan struct{} { return c.done }

func (c *lateCancelCtx) Err() error {
	if c.calls.Add(1) == 1 {
		return nil
	}
	return context.Canceled
}

func TestContextCancelledDuringEvaluation(t *testing.T) {
	items := make([]any, 1000)
	for i := range items {
		items[i] = json.Number("1")
	}
	p, err := Compile(`payload.items.all(x, x == 1)`)
	if err != nil {
		t.Fatal(err)
	}
	ctx := &lateCancelCtx{Context: context.Background(), done: make(chan struct{})}
	close(ctx.done)
	got, err := p.Match(ctx, Input{Payload: map[string]any{"items": items}})
	if got || !errors.Is(err, context.Canceled) {
		t.Errorf("Match = %v, %v; want false, context.Canceled", got, err)
	}
}

func TestSource(t *testing.T) {
	const expr = "app.uid == \"acme\" &&\n  event.type.startsWith(\"conversation_\")"
	p, err := Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	if p.Source() != expr {
		t.Errorf("Source() = %q, want %q", p.Source(), expr)
	}
}

func TestConcurrentMatch(t *testing.T) {
	p, err := Compile(`payload.items.exists(i, i.qty >= 2) && app.uid == "acme"`)
	if err != nil {
		t.Fatal(err)
	}
	in := sampleInput(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if ok, err := p.Match(context.Background(), in); err != nil || !ok {
					t.Errorf("Match = %v, %v", ok, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`payload.score > 50 && payload.user.plan == "pro"`,
		`event.type.startsWith("conversation_")`,
		`"vip" in payload.tags`,
		`app.uid == "acme"`,
		`has(payload.email)`,
		`payload.items.all(x, payload.items.all(y, x == y))`,
		`payload["会社名"].matches("^ヘラルド")`,
		`event.timestamp > timestamp("2025-01-01T00:00:00Z")`,
		`payload.score`,
		`payload.score + `,
		`((((((((((true))))))))))`,
		"\x00\xff",
		`[1, 2, 3].map(x, x * 2).size() == 3`,
		`"%s".format([payload.name]) == "Taro"`,
		`dyn(payload.ratio) / 0.0 > 1.0`,
	} {
		f.Add(s)
	}
	in := sampleInput(f)
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := Compile(expr)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q) error %T %v, want *CompileError", expr, err, err)
			}
			if ce.Line < 1 || ce.Col < 1 {
				t.Fatalf("Compile(%q): position %d:%d", expr, ce.Line, ce.Col)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ok, err := p.Match(ctx, in)
		if err != nil && ok {
			t.Fatalf("Match(%q) = true with error %v", expr, err)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	p, err := Compile(`payload.score > 50 && payload.user.plan == "pro" && event.type.startsWith("conversation_")`)
	if err != nil {
		b.Fatal(err)
	}
	in := sampleInput(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := p.Match(ctx, in); err != nil || !ok {
			b.Fatalf("Match = %v, %v", ok, err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(`payload.score > 50 && payload.user.plan == "pro" && event.type.startsWith("conversation_")`); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchCostLimit shows how long a hostile condition holds a worker
// before the cost limit stops it.
func BenchmarkMatchCostLimit(b *testing.B) {
	items := make([]any, 1000)
	for i := range items {
		items[i] = json.Number("1")
	}
	in := Input{Payload: map[string]any{"items": items}}
	p, err := Compile(`payload.items.all(x, payload.items.all(y, payload.items.all(z, true)))`)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := p.Match(ctx, in); !errors.Is(err, ErrCost) {
			b.Fatalf("Match error %v, want ErrCost", err)
		}
	}
}
