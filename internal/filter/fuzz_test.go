package filter

import (
	"context"
	"errors"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/interpreter"

	"github.com/heraldhq/herald/internal/template"
)

// fuzzConditions are conditions customers write, and ones whose cost grows
// with the payload (a loop, a loop in a loop, a regular expression).
var fuzzConditions = []string{
	`payload.score > 50 && payload.user.plan == "pro"`,
	`"vip" in payload.tags`,
	`has(payload.email) && payload.email.endsWith("@example.co.jp")`,
	`payload["会社名"].matches("^ヘラルド") || payload.name.startsWith("山")`,
	`payload.items.exists(i, i.price * i.qty > 1000)`,
	`payload.items.all(x, payload.items.all(y, x == y))`,
	`payload.items.map(x, string(x)).filter(s, s.contains("a")).size() > 2`,
	`payload.tags.exists(t, t.lowerAscii() == "vip")`,
	`size(payload) > 3 && payload.big == 9007199254740993`,
	`event.timestamp > timestamp(payload.created_at)`,
	`dyn(payload.ratio) / 0.0 > 1.0`,
	`app.uid == "acme" && event.type.startsWith("conversation_")`,
}

// FuzzMatch: payloads are the product's, and through it its customers',
// decoded as routing decodes them. Match never panics, never answers true with an error, and stops with
// ErrCost exactly when an evaluation costs more than MaxCost: the cost a
// reference program, allowed more, measures for the same evaluation.
func FuzzMatch(f *testing.F) {
	f.Add(samplePayload)
	f.Add(`{"score": 51, "user": {"plan": "pro"}, "tags": ["VIP"], "email": "a@example.co.jp"}`)
	f.Add(`{"items": [` + strings.TrimSuffix(strings.Repeat(`{"price": 1, "qty": 1},`, 400), ",") + `]}`)
	// A loop in a loop over 128 items costs 99,075 units, within MaxCost;
	// over 129 it costs 100,623.
	f.Add(`{"items": [` + strings.TrimSuffix(strings.Repeat(`1,`, 128), ",") + `]}`)
	f.Add(`{"items": [` + strings.TrimSuffix(strings.Repeat(`1,`, 129), ",") + `]}`)
	f.Add(`{"items": "not a list", "tags": {"vip": 1}, "score": "51", "created_at": "yesterday"}`)
	f.Add(`{"big": 9007199254740993, "huge": 1e400, "ratio": -0.0, "会社名": null, "name": 1}`)
	f.Add(`[1, 2, 3]`)
	f.Add(`null`)
	e, err := env()
	if err != nil {
		f.Fatal(err)
	}
	type prog struct {
		p   *Program
		ref cel.Program
	}
	var progs []prog
	for _, c := range fuzzConditions {
		p, err := Compile(c)
		if err != nil {
			f.Fatalf("%s: %v", c, err)
		}
		ast, iss := e.Compile(c)
		if iss.Err() != nil {
			f.Fatal(iss.Err())
		}
		ref, err := e.Program(ast, cel.CostLimit(4*MaxCost), cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			f.Fatal(err)
		}
		progs = append(progs, prog{p, ref})
	}
	sample := sampleInput(f)
	f.Fuzz(func(t *testing.T, payload string) {
		in := sample
		var err error
		if in.Payload, err = template.DecodePayload([]byte(payload)); err != nil {
			return // refused with 400 before any routing
		}
		for _, c := range progs {
			ok, err := c.p.Match(context.Background(), in)
			if err != nil && ok {
				t.Fatalf("%s: true with error %v", c.p.Source(), err)
			}
			_, det, refErr := c.ref.Eval(map[string]any{"payload": in.Payload, "event": in.Event, "app": in.App})
			var cancelled interpreter.EvalCancelledError
			over := errors.As(refErr, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded
			var cost uint64
			if p := det.ActualCost(); p != nil {
				cost = *p
			}
			if over = over || cost > MaxCost; over != errors.Is(err, ErrCost) {
				t.Fatalf("%s: Match error %v, reference cost %d (%v)", c.p.Source(), err, cost, refErr)
			}
		}
	})
}
