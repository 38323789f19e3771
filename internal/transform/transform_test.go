package transform

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func run(t *testing.T, e *Engine, src string) (*Output, error) {
	t.Helper()
	return e.Run(context.Background(), "", src, Input{Method: "POST", URL: "https://example.com/hook",
		Headers: map[string]string{"X-A": "1"}, Payload: []byte(`{"z":1,"a":{"y":2,"b":3}}`), EventType: "order.created"})
}

func TestTransformReshapes(t *testing.T) {
	e := New(Limits{})
	out, err := run(t, e, `function handler(w) {
		w.payload.added = w.event_type; w.headers["X-B"] = w.method; w.url += "?x=1"; w.method = "PUT"; return w }`)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) != `{"z":1,"a":{"y":2,"b":3},"added":"order.created"}` || out.Method != "PUT" ||
		out.URL != "https://example.com/hook?x=1" || out.Headers["X-B"] != "POST" || out.Headers["X-A"] != "1" {
		t.Fatalf("got %+v %s", out, out.Payload)
	}
	out, err = run(t, e, `function handler(w) {
		var f = new Function("a", "return a + 1"), g = Function("return 2");
		if (f(1) !== 2 || g() !== 2 || !(f instanceof Function) || f.constructor !== Function) throw new Error("Function");
		return {cancel: true} }`)
	if err != nil || !out.Cancel {
		t.Fatalf("cancel: %+v %v", out, err)
	}
}

func transformErr(t *testing.T, err error) *Error {
	t.Helper()
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("want *Error, got %v", err)
	}
	return te
}

func TestTransformErrors(t *testing.T) {
	e := New(Limits{})
	for src, want := range map[string]string{
		"function handler(w) {\n  throw new Error('boom')\n}":             "boom",
		"function handler(w) {":                                           "Unexpected",
		"var x = 1":                                                       "no function handler",
		"function handler(w) { return 1 }":                                "must return an object",
		"function handler(w) { return {method: 'POST', url: 'x'} }":       "payload",
		"function handler(w) { return require('fs') }":                    "require is not defined",
		"function handler(w) { return fetch('http://x') }":                "fetch is not defined",
		"function handler(w) { return new XMLHttpRequest() }":             "XMLHttpRequest is not defined",
		"function handler(w) { setTimeout(function(){}, 1); return w }":   "setTimeout is not defined",
		"function handler(w) { console.log(1); return w }":                "console is not defined",
		"function handler(w) { return new Uint8Array(10) }":               "Uint8Array is not defined",
		"function f() { return f() }\nfunction handler(w) { return f() }": "call stack",
	} {
		_, err := run(t, e, src)
		if te := transformErr(t, err); !strings.Contains(te.Error(), want) {
			t.Errorf("%s: got %q, want %q", src, te.Error(), want)
		}
	}
	_, err := run(t, e, "function handler(w) {\n\n  null.x\n}")
	if te := transformErr(t, err); te.Line != 3 {
		t.Errorf("line: got %d (%v)", te.Line, te)
	}
}

func TestTransformCPULimit(t *testing.T) {
	e := New(Limits{CPU: 50 * time.Millisecond})
	start := time.Now()
	_, err := run(t, e, `function handler(w) { while (true) {} }`)
	if te := transformErr(t, err); te.Limit != "cpu" {
		t.Fatalf("got %v", te)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
	if _, err := run(t, e, `function handler(w) { return w }`); err != nil {
		t.Fatal(err)
	}
	// A back-reference takes goja's backtracking engine, which no
	// interrupt reaches: its match timeout ends it.
	start = time.Now()
	_, err = run(t, e, `function handler(w) { /^(a+)+$(?!x)/.test("a".repeat(40) + "b"); return w }`)
	if te := transformErr(t, err); te.Limit != "cpu" {
		t.Fatalf("regexp: got %v", te)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("regexp took %s", d)
	}
}

func TestTransformMemoryLimit(t *testing.T) {
	e := New(Limits{CPU: 5 * time.Second, Memory: 64 << 20})
	for _, src := range []string{
		`function handler(w) { new Array(1e9).fill(0); return w }`,
		`function handler(w) { "x".repeat(1e9); return w }`,
		`function handler(w) { "x".padStart(1e9); return w }`,
		`function handler(w) { var a = []; while (true) a.push({n: a.length, s: "abcdefgh" + a.length}); }`,
		`function handler(w) { var s = "x"; while (true) s = s + s; }`,
		`function handler(w) { var a = []; a.length = 1e9; return {method: "POST", url: w.url, payload: a} }`,
		`function handler(w) { var a = []; a[1e8] = 1; return a.join("xxxxxxxx") }`,
		`function handler(w) { return Array.from({length: 1e9}) }`,
		`function handler(w) { var a = "x".repeat(1e6); var b = []; for (;;) b.push(a + b.length) }`,
		`function handler(w) { var a = new Array(1e8); return Math.max.apply(null, a) }`,
		`function handler(w) { return new Array(1e8).map(function (x) { return x }) }`,
		// Built-ins that make one value per character or element,
		// natively, out of reach of an interrupt.
		`function handler(w) { return "x".repeat(3e7).split("").length }`,
		`function handler(w) { return Array.from("x".repeat(3e7)).length }`,
		`function handler(w) { return [..."x".repeat(3e7)].length }`,
		`function handler(w) { return [...new Array(1e8)].length }`,
		`function handler(w) { return "x".repeat(3e7).match(/./g).length }`,
		`function handler(w) { return "x".repeat(3e7).replace(/x/g, "yyyyyyyy").length }`,
		`function handler(w) { return /x/g[Symbol.replace]("x".repeat(3e7), "yyyyyyyy").length }`,
		`function handler(w) { return Object.keys("x".repeat(3e7)).length }`,
		`function handler(w) { return new Set("x".repeat(3e7)).size }`,
		`function handler(w) { return [].concat(new Array(1e9)).length }`,
		`function handler(w) { return [new Array(1e9)].flat().length }`,
		`function handler(w) { return encodeURIComponent("\u00e9".repeat(3e7)).length }`,
		`function handler(w) { return eval("1;".repeat(1e7)) }`,
		`function handler(w) { return new Array(1e6).fill("x".repeat(1e3)).join("").length }`,
		`function handler(w) { var a = new Array(1e3).fill("x".repeat(1e4)); return new Array(1e6).fill(a).join().length }`,
		`function handler(w) { var a = new Array(1e3).fill("x".repeat(1e4)); return String(new Array(1e6).fill(a)).length }`,
		`function handler(w) { return new Function("1;".repeat(1e7))() }`,
		`function handler(w) { return (function () {}).constructor("1;".repeat(1e7))() }`,
		`function handler(w) { return Object.getPrototypeOf(async function () {}).constructor("1;".repeat(1e7)) }`,
	} {
		start := time.Now()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := run(t, e, src)
		te := transformErr(t, err)
		if te.Limit != "memory" && !strings.Contains(te.Msg, "memory limit") {
			t.Errorf("%s: got %v", src, te)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %s", src, d)
		}
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		if after.HeapAlloc > before.HeapAlloc+256<<20 {
			t.Errorf("%s: heap grew from %d to %d", src, before.HeapAlloc, after.HeapAlloc)
		}
	}
	if _, err := run(t, e, `function handler(w) { return w }`); err != nil {
		t.Fatal(err)
	}
}

func TestTransformCachesPrograms(t *testing.T) {
	e := New(Limits{})
	k := Key("ep_1", time.Unix(1, 0), "function handler(w) { return w }")
	for range 3 {
		if _, err := e.Run(context.Background(), k, "function handler(w) { return w }", Input{Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if e.programs.Len() != 1 {
		t.Fatalf("%d programs cached", e.programs.Len())
	}
}

func BenchmarkTransform(b *testing.B) {
	e := New(Limits{})
	src := `function handler(w) { w.payload.x = 1; return w }`
	k := Key("ep", time.Unix(1, 0), src)
	for b.Loop() {
		if _, err := e.Run(context.Background(), k, src, Input{Method: "POST", URL: "https://e.com", Payload: []byte(`{"a":1}`)}); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzTransform runs arbitrary scripts: none may crash the process or
// outlive its limits.
func FuzzTransform(f *testing.F) {
	for _, s := range []string{
		"function handler(w) { return w }",
		"function handler(w) { while(true){} }",
		"function handler(w) { return {cancel: true} }",
		"function handler(w) { throw 1 }",
		"function handler(w) { return {method: 1, url: {}, headers: [], payload: undefined} }",
		"function handler(w) { return {method: 'GET', url: 'x', headers: {a: 1}, payload: w} }",
		"function handler(w) { var o = {}; o.o = o; return {method: 'GET', url: 'x', payload: o} }",
		"function handler(w) { return {method:'P', url:'u', payload: 'x'.repeat(1e9)} }",
		"function handler(w) { return Object.defineProperty({}, 'payload', {get: function () { for(;;){} }, enumerable: true}) }",
		"handler = 5",
		"}{",
		"function handler(w) { return eval('w') }",
		"function handler(w) { return new Function('return 1')() }",
		"function handler(w) { return [].concat.apply([], new Array(1e7)) }",
	} {
		f.Add(s)
	}
	e := New(Limits{CPU: 20 * time.Millisecond, Memory: 16 << 20})
	f.Fuzz(func(t *testing.T, src string) {
		done := make(chan error, 1)
		go func() {
			_, err := e.Run(context.Background(), "", src, Input{Method: "POST", URL: "https://e.com", Payload: []byte(`{"a":[1,2]}`)})
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("still running after 5s: %q", src)
		}
		if err != nil {
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("not an *Error: %v", err)
			}
		}
	})
}

// Calls running at once see each other's allocations in the process's
// count: scripts each well under the limit all pass, however many run.
func TestTransformMemoryLimitShared(t *testing.T) {
	e := New(Limits{CPU: 10 * time.Second, Memory: 64 << 20})
	// About 16 MiB of garbage in small strings, over some milliseconds.
	src := `function handler(w) { var n = 0; for (var i = 0; i < 200000; i++) n += ("abcdefghijklmnopqrstuvwxyz0123456789" + i).length; w.payload = {n: n}; return w }`
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := run(t, e, src)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
