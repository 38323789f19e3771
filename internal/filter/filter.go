package filter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// MaxCost bounds the work of one evaluation, in CEL cost units (roughly one
// per comparison or field read). It is far above what ordinary conditions
// cost (tens of units) and stops a loop over a loop over a large list within
// a few milliseconds instead of letting it hold a delivery worker.
const MaxCost = 100_000

// MaxLength is the longest accepted expression, in characters, so that a
// stored condition stays readable and cheap to compile.
const MaxLength = 4096

// interruptEvery is how many loop iterations pass between checks of the
// context, trading a little speed for a prompt stop on cancellation.
const interruptEvery = 100

// ErrCost is matched (with errors.Is) by the error of an evaluation that
// went over MaxCost, so callers can tell a condition that is too expensive
// from one that met unexpected data.
var ErrCost = errors.New("filter: evaluation cost limit exceeded")

// Input is what a condition sees. It is built once per event and may be
// shared by the conditions of every endpoint the event could go to.
type Input struct {
	// Payload is the event's JSON payload as decoded with
	// json.Decoder.UseNumber: map[string]any, []any, json.Number, string,
	// bool or nil. Numbers stay json.Number so that large integers compare
	// exactly.
	Payload any
	Event   EventInfo
	App     AppInfo
}

// EventInfo is the event as conditions see it, through the variable event.
// The cel tags are the field names in expressions.
type EventInfo struct {
	ID        string    `cel:"id"`
	Type      string    `cel:"type"`
	Timestamp time.Time `cel:"timestamp"`
}

// AppInfo is the sending application as conditions see it, through the
// variable app. The cel tags are the field names in expressions.
type AppInfo struct {
	ID   string `cel:"id"`
	UID  string `cel:"uid"`
	Name string `cel:"name"`
}

// CompileError reports why an expression was refused, with a position the
// customer can find in what they typed.
type CompileError struct {
	Line int    // 1-based
	Col  int    // 1-based, in characters
	Msg  string // what is wrong, without the position
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("filter: line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// Program is a compiled condition. It is safe for concurrent use; compile
// once when the endpoint is loaded and call Match for every event.
type Program struct {
	src string
	prg cel.Program
}

// Source returns the expression as written, for display and for storing.
func (p *Program) Source() string { return p.src }

// env is shared by all programs: building it costs far more than
// compiling one expression.
var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(
			reflect.TypeFor[EventInfo](),
			reflect.TypeFor[AppInfo](),
			ext.ParseStructTags(true),
		),
		jsonValues(), // after NativeTypes, which replaces the adapter
		cel.Variable("payload", cel.DynType),
		cel.Variable("event", cel.ObjectType("filter.EventInfo")),
		cel.Variable("app", cel.ObjectType("filter.AppInfo")),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
	)
})

// Compile checks expr and prepares it for Match. Every problem that can be
// seen without an event is reported here as a *CompileError, so that a bad
// condition is refused when the endpoint is saved rather than silently
// matching nothing.
func Compile(expr string) (*Program, error) {
	if n := utf8.RuneCountInString(expr); n > MaxLength {
		line, col := position(expr, MaxLength)
		return nil, &CompileError{Line: line, Col: col,
			Msg: fmt.Sprintf("expression is %d characters long, the limit is %d", n, MaxLength)}
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("filter: environment: %w", err)
	}
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		first := iss.Errors()[0]
		return nil, &CompileError{
			Line: max(first.Location.Line(), 1),
			Col:  max(first.Location.Column()+1, 1),
			Msg:  first.Message,
		}
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		// The whole expression is at fault, so point at where it starts.
		line, col := position(expr, len([]rune(expr))-len([]rune(strings.TrimLeftFunc(expr, unicode.IsSpace))))
		return nil, &CompileError{Line: line, Col: col,
			Msg: fmt.Sprintf("expression gives %s, it must give true or false", cel.FormatCELType(t))}
	}
	prg, err := e.Program(ast,
		cel.CostLimit(MaxCost),
		cel.InterruptCheckFrequency(interruptEvery),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, &CompileError{Line: 1, Col: 1, Msg: err.Error()}
	}
	return &Program{src: expr, prg: prg}, nil
}

// position finds the line and column (both 1-based) of the character at
// index n (0-based, in characters) of s.
func position(s string, n int) (line, col int) {
	line, col = 1, 1
	i := 0
	for _, r := range s {
		if i == n {
			break
		}
		i++
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// Match evaluates the condition against in. An error (a missing field, a
// value of the wrong type, the cost limit, a cancelled ctx) means the event
// is not sent; the caller records it so the customer can fix the condition.
func (p *Program) Match(ctx context.Context, in Input) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("filter: %w", context.Cause(ctx))
	}
	vars := map[string]any{
		"payload": in.Payload,
		"event":   in.Event,
		"app":     in.App,
	}
	out, _, err := p.prg.ContextEval(ctx, vars)
	if err != nil {
		var cancelled interpreter.EvalCancelledError
		if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
			return false, fmt.Errorf("%w (limit %d units)", ErrCost, MaxCost)
		}
		return false, fmt.Errorf("filter: %w", err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("filter: expression gave %s, not true or false", out.Type().TypeName())
	}
	return bool(b), nil
}

// jsonAdapter makes CEL values of a payload decoded with UseNumber as an
// expression reaches into it, so a Match costs what the expression reads, not
// the size of the payload. A json.Number becomes an int when it is a whole
// number that fits in int64 and a double otherwise (±Inf when out of range,
// so that comparisons stay numeric); everything else goes to base.
type jsonAdapter struct{ base types.Adapter }

func (a jsonAdapter) NativeToValue(v any) ref.Val {
	switch v := v.(type) {
	case map[string]any:
		return types.NewStringInterfaceMap(a, v)
	case []any:
		return types.NewDynamicList(a, v)
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return types.Int(i)
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return types.String(v) // not a JSON number; leave it visible as text
		}
		return types.Double(f)
	}
	return a.base.NativeToValue(v)
}

// jsonValues installs jsonAdapter over the environment's adapter so far.
func jsonValues() cel.EnvOption {
	return func(e *cel.Env) (*cel.Env, error) {
		return cel.CustomTypeAdapter(jsonAdapter{base: e.CELTypeAdapter()})(e)
	}
}
