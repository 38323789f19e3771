package template

import (
	"errors"
	"net/url"
	"runtime"
	"strings"
	"testing"
)

// Each rendering is checked at every limit below its length: the exact
// length passes with the same output, any less is ErrTooLarge, so no cut
// point lets part of an over-limit output through.

var limitTextCases = []struct {
	name, src string
	escape    func(string) string
}{
	{name: "literal only", src: "https://example.com/hooks"},
	{name: "values of every kind", src: "Hi {{name}}! {{lead}} {{score}} {{yes}} [{{nothing}}] [{{missing}}] {{items}}"},
	{name: "filters", src: "{{company | upper}} {{lead | json}} {{query | urlencode}} {{name | truncate:5}} {{created | date:\"YYYY/MM/DD\"}}"},
	{name: "escaped values", src: "https://example.com/{{app.uid}}/{{query}}?q={{lead}}", escape: url.PathEscape},
	{name: "unicode", src: "{{会社名}}さま {{会社.名前}}"},
}

func TestTextRenderLimit(t *testing.T) {
	d := fixtureData(t)
	for _, c := range limitTextCases {
		t.Run(c.name, func(t *testing.T) {
			tm, err := ParseText(c.src, Options{Titles: fixtureTitles})
			if err != nil {
				t.Fatal(err)
			}
			want, err := tm.RenderEscaped(d, c.escape)
			if err != nil || want == "" {
				t.Fatalf("unlimited rendering: %q, %v", want, err)
			}
			if got, err := tm.RenderLimit(d, c.escape, len(want)); err != nil || got != want {
				t.Fatalf("at the limit (%d bytes): %q, %v; want %q", len(want), got, err, want)
			}
			for limit := range len(want) {
				if got, err := tm.RenderLimit(d, c.escape, limit); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("limit %d of %d: %q, %v; want ErrTooLarge", limit, len(want), got, err)
				}
			}
		})
	}
}

var limitJSONCases = []struct{ name, src string }{
	{name: "literal only", src: `{"source":"herald","n":[1,2,3]}`},
	{name: "whole values", src: `{"lead":"{{lead}}","items":"{{items}}","score":"{{score}}","yes":"{{yes}}","none":"{{missing}}","html":"{{html}}"}`},
	{name: "values inside strings", src: `{"summary":"{{name}} of {{lead}} at {{html}} ({{score}}, {{yes}}) {{missing}}"}`},
	{name: "nested", src: `{"a":[{"b":"{{matrix}}"},"{{company}}",["x {{items.0}}"]]}`},
	{name: "filters", src: `{"j":"{{lead | json}}","u":"{{company | upper}}","t":"{{html | truncate:3}}"}`},
	{name: "not an object", src: `["{{payload}}"]`},
}

// mustJSON parses a JSON template the test relies on.
func mustJSON(t *testing.T, src string) *JSON {
	t.Helper()
	tm, err := ParseJSON([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestJSONRenderLimit(t *testing.T) {
	d := fixtureData(t)
	for _, c := range limitJSONCases {
		t.Run(c.name, func(t *testing.T) {
			tm := mustJSON(t, c.src)
			want, err := tm.Render(d)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := tm.RenderLimit(d, len(want)); err != nil || string(got) != string(want) {
				t.Fatalf("at the limit (%d bytes): %s, %v; want %s", len(want), got, err, want)
			}
			for limit := range len(want) {
				if got, err := tm.RenderLimit(d, limit); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("limit %d of %d: %s, %v; want ErrTooLarge", limit, len(want), got, err)
				}
			}
		})
	}
}

func TestFieldsRenderLimit(t *testing.T) {
	d := fixtureData(t)
	for _, c := range limitJSONCases {
		if strings.HasPrefix(c.src, "[") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			tm := mustJSON(t, c.src)
			want, err := tm.RenderFields(d)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, f := range want {
				n += len(f.Key) + len(f.Value)
			}
			got, err := tm.RenderFieldsLimit(d, n)
			if err != nil || len(got) != len(want) {
				t.Fatalf("at the limit (%d bytes): %v, %v; want %v", n, got, err, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("at the limit: field %d is %v, want %v", i, got[i], want[i])
				}
			}
			for limit := range n {
				if got, err := tm.RenderFieldsLimit(d, limit); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("limit %d of %d: %v, %v; want ErrTooLarge", limit, n, got, err)
				}
			}
		})
	}
}

// allocated returns the bytes f allocates. Tests using it do not run in
// parallel, so that only f counts.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// errOf keeps the error of a rendering.
func errOf[T any](_ T, err error) error { return err }

// bombPayload is a 40 KB object, the payload of the template bombs.
func bombPayload(t *testing.T) any {
	t.Helper()
	p, err := DecodePayload([]byte(`{"text":"` + strings.Repeat("0123456789", 4000) + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRenderLimitBoundsTheWork renders templates whose output would be
// 200 MB: each stops at the limit having allocated a small multiple of it
// (the output's buffer as it grows, and each value's text on its way in).
func TestRenderLimitBoundsTheWork(t *testing.T) {
	const limit = 256 << 10
	d := &Data{Payload: bombPayload(t)}
	text, err := ParseText(strings.Repeat("{{payload}}", 5000), Options{})
	if err != nil {
		t.Fatal(err)
	}
	wholeValues := mustJSON(t, "["+strings.Repeat(`"{{payload}}",`, 4999)+`"{{payload}}"]`)
	inString := `"` + strings.Repeat(`{{payload}} `, 5000) + `"`
	insideString := mustJSON(t, inString)
	fields := mustJSON(t, `{"a":`+inString+`}`)
	// One value, an array of 1.3 MB, written only as far as the limit.
	big := make([]any, 100_000)
	for i := range big {
		big[i] = "0123456789"
	}
	bigData := &Data{Payload: map[string]any{"big": big}}
	oneValue := mustJSON(t, `{"all":"{{big}}"}`)
	renders := map[string]func() error{
		"one large value":             func() error { return errOf(oneValue.RenderLimit(bigData, limit)) },
		"json whole values":           func() error { return errOf(wholeValues.RenderLimit(d, limit)) },
		"json values inside a string": func() error { return errOf(insideString.RenderLimit(d, limit)) },
		"fields":                      func() error { return errOf(fields.RenderFieldsLimit(d, limit)) },
		"text":                        func() error { return errOf(text.RenderLimit(d, nil, limit)) },
		"escaped text":                func() error { return errOf(text.RenderLimit(d, url.QueryEscape, limit)) },
	}
	for name, render := range renders {
		var err error
		n := allocated(func() { err = render() })
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		}
		if n > 8*limit {
			t.Errorf("%s allocated %d bytes, more than 8 times the limit of %d", name, n, limit)
		}
	}
}

// TestFilterChainBounded holds filters to the limit too: each json filter
// doubles a run of quotes (a quote becomes backslash and quote), so
// sixteen of them make 64 MB of a 1 KB value, which truncate would then
// cut to 10 characters. The rendering stops at the first value over the
// limit instead. Each step of the chain writes its result anew, so what it
// allocates is a few times the sum of the steps below the limit.
func TestFilterChainBounded(t *testing.T) {
	const limit = 64 << 10
	chain := "{{s" + strings.Repeat(" | json", 16) + " | truncate:10}}"
	tm, err := ParseText(chain, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := &Data{Payload: map[string]any{"s": strings.Repeat(`"`, 1000)}}
	var out string
	n := allocated(func() { out, err = tm.RenderLimit(d, nil, limit) })
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%q, %v; want ErrTooLarge", out, err)
	}
	if n > 32*limit {
		t.Fatalf("allocated %d bytes, more than 32 times the limit of %d", n, limit)
	}
	// On one quote the chain's longest value is 128 KB: it renders
	// within a limit above that.
	d.Payload = map[string]any{"s": `"`}
	if out, err := tm.RenderLimit(d, nil, 256<<10); err != nil || len(out) != 10 {
		t.Fatalf("short value: %q, %v", out, err)
	}
}
