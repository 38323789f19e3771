// Package transform runs an endpoint's transformation: a tenant's
// JavaScript function handler(webhook) that reshapes a request before it
// is signed and sent, or cancels it.
//
// Scripts run in goja (pure Go) with nothing but the language itself: no
// require, no network, no file system, no timers, no console, no binary
// buffers. Each call gets a fresh runtime (programs are compiled once per
// endpoint version and shared), so nothing one call leaves behind reaches
// the next, and is held to a CPU-time limit and a memory limit.
//
// The limits are enforced two ways, because goja keeps no account of what
// a script allocates and an interrupt reaches a script only between its
// own steps. Built-ins that allocate a block or loop natively over each
// character or element (repeat, padStart, split, replace, iterators,
// Array.prototype, Object.keys, JSON.stringify, eval, ...) refuse inputs
// past the limit before they start (sandbox.go). Everything else is
// watched: a goroutine reads the process's allocated bytes
// (runtime/metrics) every millisecond and interrupts the script once more
// than the limit was allocated since the call began. That count is
// process-wide and counts garbage too, so the bound is approximate: calls
// running at once share a budget of their limits' sum (see watch), a call
// may be stopped early when the rest of Herald allocates much at the same
// time, and a script may overshoot by what it allocates in about a
// millisecond.
package transform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dlclark/regexp2"
	"github.com/dop251/goja"

	"github.com/heraldhq/herald/internal/cache"
)

// MaxSourceBytes bounds a transformation's source.
const MaxSourceBytes = 64 << 10

// Defaults of the limits per call.
const (
	DefaultCPULimit    = 100 * time.Millisecond
	DefaultMemoryLimit = 64 << 20
)

// Limits bound one call.
type Limits struct {
	// CPU is the longest a call may run; 0: DefaultCPULimit.
	CPU time.Duration
	// Memory is the most a call may allocate, in bytes; 0:
	// DefaultMemoryLimit.
	Memory int64
}

// Input is what handler(webhook) receives.
type Input struct {
	Method  string
	URL     string
	Headers map[string]string
	// Payload is the event's payload, JSON.
	Payload   []byte
	EventType string
}

// Output is what handler(webhook) returned.
type Output struct {
	// Cancel drops the delivery: nothing is sent.
	Cancel  bool
	Method  string
	URL     string
	Headers map[string]string
	// Payload is the returned payload as compact JSON, its keys in the
	// order the script left them.
	Payload []byte
}

// Error is a transformation that failed: a syntax error, a throw, a bad
// return value or a limit hit.
type Error struct {
	Msg string
	// Line is the script's line the error points at, 0 when unknown.
	Line int
	// Limit names the limit hit ("cpu", "memory"), empty otherwise.
	Limit string
	// Script names the script that failed; empty: "transformation".
	Script string
}

func (e *Error) Error() string {
	what := e.Script
	if what == "" {
		what = "transformation"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", what, e.Line, e.Msg)
	}
	return what + ": " + e.Msg
}

// Engine runs transformations. It is safe for concurrent use; share one.
type Engine struct {
	lim      Limits
	programs *cache.LRU[string, *goja.Program]
	// running counts the calls under way: the allocations a watcher
	// sees are the whole process's, theirs included.
	running atomic.Int64
}

var regexpTimeout sync.Once

// maxProgramBytes bounds the compiled programs kept, weighed by source.
const maxProgramBytes = 32 << 20

// New returns an Engine holding every call to lim.
func New(lim Limits) *Engine {
	if lim.CPU <= 0 {
		lim.CPU = DefaultCPULimit
	}
	if lim.Memory <= 0 {
		lim.Memory = DefaultMemoryLimit
	}
	regexpTimeout.Do(func() {
		// Patterns re2 cannot run (back-references, look-arounds) go to
		// a backtracking engine, whose match no interrupt reaches: its
		// own timeout ends it, and the CPU limit's interrupt then stops
		// the script. The setting is the package's, for the process.
		regexp2.DefaultMatchTimeout = lim.CPU
	})
	return &Engine{lim: lim, programs: cache.NewLRU(cache.MaxEntries, cache.LRUOptions[string, *goja.Program]{
		MaxCost: maxProgramBytes,
		// About ten times the source: the program and its key.
		Cost: func(k string, _ *goja.Program) int64 { return int64(len(k)) + 4096 },
	})}
}

// Limits returns the limits in force.
func (e *Engine) Limits() Limits { return e.lim }

// Key names one version of an endpoint's transformation in the cache:
// its endpoint id and update time, and a hash of the source, so that an
// endpoint not yet saved (a preview) shares nothing with another.
func Key(endpointID string, updated time.Time, src string) string {
	sum := sha256.Sum256([]byte(src))
	return endpointID + "@" + updated.UTC().Format(time.RFC3339Nano) + "#" + hex.EncodeToString(sum[:])
}

// Compile checks a transformation's source: its size, its syntax.
func Compile(src string) (*goja.Program, error) {
	if len(src) > MaxSourceBytes {
		return nil, &Error{Msg: fmt.Sprintf("the source is %d bytes, more than %d", len(src), MaxSourceBytes)}
	}
	p, err := goja.Compile("transformation.js", src, true)
	if err != nil {
		var ce *goja.CompilerSyntaxError
		if errors.As(err, &ce) {
			e := &Error{Msg: ce.Message}
			if ce.File != nil {
				e.Line = ce.File.Position(ce.Offset).Line
			}
			return nil, e
		}
		return nil, &Error{Msg: err.Error()}
	}
	return p, nil
}

func (e *Engine) program(key, src string) (*goja.Program, error) {
	if key != "" {
		if p, ok := e.programs.Get(key); ok {
			return p, nil
		}
	}
	p, err := Compile(src)
	if err != nil {
		return nil, err
	}
	if key != "" {
		e.programs.Put(key, p)
	}
	return p, nil
}

// driver calls handler with the input parsed in the runtime (JSON.parse
// keeps the payload's key order, as JavaScript orders keys) and hands
// back the result as JSON.
const driver = `(function (input) {
	if (typeof handler !== "function") throw new Error("the transformation defines no function handler(webhook)");
	var out = handler(JSON.parse(input));
	if (out === null || typeof out !== "object" || Array.isArray(out)) throw new Error("handler must return an object");
	return JSON.stringify(out);
})`

var driverProgram = goja.MustCompile("driver.js", driver, true)

// errInterrupted values tell why the watcher stopped a call.
var (
	errCPU    = errors.New("cpu")
	errMemory = errors.New("memory")
)

// Run calls the transformation src (cached under key; empty: not cached)
// on in. A failure is an *Error; ctx ending stops the call too.
func (e *Engine) Run(ctx context.Context, key, src string, in Input) (*Output, error) {
	p, err := e.program(key, src)
	if err != nil {
		return nil, err
	}
	input, err := json.Marshal(struct {
		Method    string            `json:"method"`
		URL       string            `json:"url"`
		Headers   map[string]string `json:"headers"`
		Payload   json.RawMessage   `json:"payload"`
		EventType string            `json:"event_type"`
	}{in.Method, in.URL, in.Headers, json.RawMessage(orNull(in.Payload)), in.EventType})
	if err != nil {
		return nil, &Error{Msg: "the payload is not JSON"}
	}
	res, err := e.call(ctx, p, driverProgram, string(input))
	if err != nil {
		return nil, err
	}
	return decode(res)
}

// call runs program p, then calls the function driver evaluates to with
// input, in a fresh sandboxed runtime held to the engine's limits.
func (e *Engine) call(ctx context.Context, p, driver *goja.Program, input string) (string, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(1000)
	var stopped atomic.Bool
	if err := e.sandbox(vm, &stopped); err != nil {
		return "", &Error{Msg: err.Error()}
	}
	stop := e.watch(ctx, vm, &stopped)
	res, err := func() (v goja.Value, err error) {
		defer func() {
			// goja turns most Go panics into exceptions; anything left is
			// the script's failure, never the server's.
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		if _, err := vm.RunProgram(p); err != nil {
			return nil, err
		}
		f, err := vm.RunProgram(driver)
		if err != nil {
			return nil, err
		}
		call, _ := goja.AssertFunction(f)
		return call(goja.Undefined(), vm.ToValue(input))
	}()
	why := stop()
	if err != nil {
		return "", scriptError(err, why, e.lim)
	}
	return res.String(), nil
}

// convertDriver calls an event type version's convert(payload) and hands
// back what it returned as JSON.
const convertDriver = `(function (input) {
	if (typeof convert !== "function") throw new Error("the converter defines no function convert(payload)");
	var out = convert(JSON.parse(input));
	if (out === undefined) throw new Error("convert must return the payload in the previous version's shape");
	return JSON.stringify(out);
})`

var convertProgram = goja.MustCompile("driver.js", convertDriver, true)

// CompileConverter checks an event type version's converter: its size,
// its syntax.
func CompileConverter(src string) error {
	_, err := Compile(src)
	return err
}

// Convert calls the converter src (cached under key; empty: not cached)
// on a payload, JSON, and returns what convert(payload) returned as
// compact JSON. A failure is an *Error; ctx ending stops the call too.
func (e *Engine) Convert(ctx context.Context, key, src string, payload []byte) ([]byte, error) {
	p, err := e.program(key, src)
	if err != nil {
		return nil, err
	}
	res, err := e.call(ctx, p, convertProgram, string(orNull(payload)))
	if err != nil {
		return nil, err
	}
	return []byte(res), nil
}

// watch interrupts vm (and sets stopped, which the sandbox's built-ins
// check, since a native loop never reaches the interrupt) when the call passes its CPU time, allocates more
// than its memory, or ctx ends. stop ends the watch and tells which
// stopped the call, nil if none did.
func (e *Engine) watch(ctx context.Context, vm *goja.Runtime, stopped *atomic.Bool) (stop func() error) {
	start := allocated()
	e.running.Add(1)
	done := make(chan struct{})
	var (
		mu  sync.Mutex
		why error
	)
	interrupt := func(err error) {
		mu.Lock()
		if why == nil {
			why = err
		}
		mu.Unlock()
		stopped.Store(true)
		vm.Interrupt(err)
	}
	go func() {
		peers := int64(1)
		cpu := time.NewTimer(e.lim.CPU)
		defer cpu.Stop()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				interrupt(ctx.Err())
				return
			case <-cpu.C:
				interrupt(errCPU)
				return
			case <-tick.C:
				// Calls running at once share what the process
				// allocates: each may see all of it, so the budget is
				// the limit times the most calls seen at once. Alone, a
				// call gets the limit; together, they get no more than
				// their limits' sum.
				peers = max(peers, e.running.Load())
				if allocated()-start > uint64(e.lim.Memory)*uint64(peers) {
					interrupt(errMemory)
					return
				}
			}
		}
	}()
	return func() error {
		close(done)
		e.running.Add(-1)
		vm.ClearInterrupt()
		mu.Lock()
		defer mu.Unlock()
		return why
	}
}

// allocated is the bytes the process has allocated since it began.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// scriptError turns what ended a call into an *Error with the script's
// line where there is one.
func scriptError(err error, why error, lim Limits) error {
	switch {
	case errors.Is(why, errCPU):
		return &Error{Msg: fmt.Sprintf("ran longer than the CPU limit of %s", lim.CPU), Limit: "cpu"}
	case errors.Is(why, errMemory):
		return &Error{Msg: fmt.Sprintf("allocated more than the memory limit of %d MiB", lim.Memory>>20), Limit: "memory"}
	case why != nil:
		return &Error{Msg: "stopped: " + why.Error()}
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		msg := ex.Value().String()
		if o, ok := ex.Value().(*goja.Object); ok {
			if m := o.Get("message"); m != nil && !goja.IsUndefined(m) {
				if n := o.Get("name"); n != nil && !goja.IsUndefined(n) {
					msg = n.String() + ": " + m.String()
				}
			}
		}
		return &Error{Msg: msg, Line: line(ex)}
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return &Error{Msg: "maximum call stack size exceeded"}
	}
	return &Error{Msg: err.Error()}
}

// line is the line of the script (not of the driver) an exception was
// thrown at.
func line(ex *goja.Exception) int {
	for _, f := range ex.Stack() {
		if f.SrcName() == "transformation.js" {
			return f.Position().Line
		}
	}
	return 0
}

// decode reads handler's result.
func decode(s string) (*Output, error) {
	var raw struct {
		Cancel  any             `json:"cancel"`
		Method  any             `json:"method"`
		URL     any             `json:"url"`
		Headers any             `json:"headers"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, &Error{Msg: "handler returned no JSON object"}
	}
	out := &Output{}
	if b, ok := raw.Cancel.(bool); ok {
		out.Cancel = b
	} else if raw.Cancel != nil {
		return nil, &Error{Msg: "cancel must be true or false"}
	}
	if out.Cancel {
		return out, nil
	}
	var ok bool
	if out.Method, ok = raw.Method.(string); !ok {
		return nil, &Error{Msg: "handler must return method as a string"}
	}
	if out.URL, ok = raw.URL.(string); !ok {
		return nil, &Error{Msg: "handler must return url as a string"}
	}
	switch h := raw.Headers.(type) {
	case nil:
	case map[string]any:
		out.Headers = make(map[string]string, len(h))
		for k, v := range h {
			s, ok := v.(string)
			if !ok {
				return nil, &Error{Msg: fmt.Sprintf("header %q must be a string", k)}
			}
			out.Headers[k] = s
		}
	default:
		return nil, &Error{Msg: "headers must be an object of strings"}
	}
	if len(raw.Payload) == 0 {
		return nil, &Error{Msg: "handler must return a payload (the JSON body to send)"}
	}
	out.Payload = raw.Payload
	return out, nil
}

func orNull(p []byte) []byte {
	if len(strings.TrimSpace(string(p))) == 0 {
		return []byte("null")
	}
	return p
}
