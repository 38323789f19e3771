package transform

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"

	"github.com/dop251/goja"
)

// removed are globals a transformation has no use for whose constructors
// allocate a whole buffer in one native step.
var removed = []string{"ArrayBuffer", "SharedArrayBuffer", "DataView", "Int8Array", "Uint8Array",
	"Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array",
	"Float64Array", "BigInt64Array", "BigUint64Array", "WeakRef", "FinalizationRegistry"}

// sandbox takes from vm what a script must not reach and puts size checks
// in front of the built-ins that loop or allocate natively, where an
// interrupt cannot reach: they refuse, with a RangeError, inputs that
// would pass the memory limit or hold the call far past its CPU limit.
// goja itself brings no require, console, timers, network or file system.
func (e *Engine) sandbox(vm *goja.Runtime, stopped *atomic.Bool) error {
	g := vm.GlobalObject()
	for _, name := range removed {
		if err := g.Delete(name); err != nil {
			return err
		}
	}
	// maxChars bounds a string a built-in makes in one step (a character
	// may take two bytes). maxElems bounds what a built-in walks
	// natively, element by element or character by character: each
	// element it makes costs about 64 bytes.
	maxChars := e.lim.Memory / 2
	maxElems := e.lim.Memory / 64
	rangeErr := func(what string) {
		msg := fmt.Sprintf("%s would pass the memory limit of %d MiB", what, e.lim.Memory>>20)
		o, err := vm.New(vm.Get("RangeError"), vm.ToValue(msg))
		if err != nil {
			panic(vm.NewGoError(errors.New(msg)))
		}
		panic(o)
	}
	// lengthOf is v's length: an array's, an array-like's, a string's.
	lengthOf := func(v goja.Value) int64 {
		if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
			return 0
		}
		o, ok := v.(*goja.Object)
		if !ok {
			if v.ExportType() != reflect.TypeFor[string]() {
				return 0
			}
			o = v.ToObject(vm)
		}
		l := o.Get("length")
		if l == nil || goja.IsUndefined(l) {
			return 0
		}
		f := l.ToFloat()
		if f != f || f < 0 {
			return 0
		}
		if f > 1<<53 {
			return 1 << 53
		}
		return int64(f)
	}
	guard := func(orig goja.Callable, check func(call goja.FunctionCall)) goja.Value {
		return vm.ToValue(func(call goja.FunctionCall) goja.Value {
			if stopped.Load() {
				// A native loop calling back in (a join of nested
				// arrays) ends here once the watcher has stopped the
				// call.
				panic(vm.NewGoError(errStopped))
			}
			check(call)
			v, err := orig(call.This, call.Arguments...)
			if err != nil {
				panic(err)
			}
			return v
		})
	}
	wrap := func(obj *goja.Object, name string, check func(call goja.FunctionCall)) error {
		orig, ok := goja.AssertFunction(obj.Get(name))
		if !ok {
			return fmt.Errorf("sandbox: %s is not a function", name)
		}
		return obj.DefineDataProperty(name, guard(orig, check), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	wrapSym := func(obj *goja.Object, sym *goja.Symbol, check func(call goja.FunctionCall)) error {
		orig, ok := goja.AssertFunction(obj.GetSymbol(sym))
		if !ok {
			return fmt.Errorf("sandbox: %s is not a function", sym)
		}
		return obj.DefineDataPropertySymbol(sym, guard(orig, check), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	long := func(what string, vs ...goja.Value) {
		for _, v := range vs {
			if lengthOf(v) > maxElems {
				rangeErr(what + " on something this long")
			}
		}
	}
	proto := func(name string) *goja.Object {
		return vm.Get(name).ToObject(vm).Get("prototype").ToObject(vm)
	}

	str := proto("String")
	if err := wrap(str, "repeat", func(c goja.FunctionCall) {
		n := c.Argument(0).ToFloat()
		if n > 0 && float64(lengthOf(c.This))*n > float64(maxChars) {
			rangeErr("repeat")
		}
	}); err != nil {
		return err
	}
	for _, name := range []string{"padStart", "padEnd"} {
		if err := wrap(str, name, func(c goja.FunctionCall) {
			if c.Argument(0).ToFloat() > float64(maxChars) {
				rangeErr(name)
			}
		}); err != nil {
			return err
		}
	}
	// Each makes up to one value per character, natively.
	for _, name := range []string{"split", "match", "matchAll", "replace", "replaceAll", "normalize"} {
		if err := wrap(str, name, func(c goja.FunctionCall) { long("String.prototype."+name, c.This) }); err != nil {
			return err
		}
	}
	if err := wrapSym(str, goja.SymIterator, func(c goja.FunctionCall) { long("iterating a string", c.This) }); err != nil {
		return err
	}
	re := proto("RegExp")
	for _, sym := range []*goja.Symbol{goja.SymMatch, goja.SymMatchAll, goja.SymReplace, goja.SymSplit} {
		if err := wrapSym(re, sym, func(c goja.FunctionCall) { long("a regular expression", c.Argument(0)) }); err != nil {
			return err
		}
	}
	for _, name := range []string{"encodeURI", "encodeURIComponent", "decodeURI", "decodeURIComponent", "escape", "unescape"} {
		if goja.IsUndefined(g.Get(name)) || g.Get(name) == nil {
			continue
		}
		if err := wrap(g, name, func(c goja.FunctionCall) { long(name, c.Argument(0)) }); err != nil {
			return err
		}
	}

	arrayCtor := vm.Get("Array").ToObject(vm)
	arr := arrayCtor.Get("prototype").ToObject(vm)
	// Every Array.prototype method loops natively over this.length (and
	// concat over its arguments'): a sparse array of a billion holes
	// costs nothing to make and much to fill, join, map or copy.
	for _, name := range arr.GetOwnPropertyNames() {
		if _, ok := goja.AssertFunction(arr.Get(name)); !ok || name == "constructor" {
			continue
		}
		if err := wrap(arr, name, func(c goja.FunctionCall) {
			long("Array.prototype."+name, c.This)
			long("Array.prototype."+name, c.Arguments...)
			switch name {
			case "join", "toString", "toLocaleString":
				sep := int64(len(argString(c.Argument(0))))
				if name != "join" {
					sep = 1
				}
				if !joinFits(vm, c.This, lengthOf(c.This), sep, maxChars) {
					rangeErr(name)
				}
			case "flat", "flatMap":
				if !fitsJSON(c.This, maxElems) {
					rangeErr(name)
				}
			}
		}); err != nil {
			return err
		}
	}
	if err := wrapSym(arr, goja.SymIterator, func(c goja.FunctionCall) { long("iterating an array", c.This) }); err != nil {
		return err
	}
	if err := wrap(arrayCtor, "from", func(c goja.FunctionCall) { long("Array.from", c.Argument(0)) }); err != nil {
		return err
	}
	obj := vm.Get("Object").ToObject(vm)
	for _, name := range []string{"keys", "values", "entries", "getOwnPropertyNames", "assign"} {
		if err := wrap(obj, name, func(c goja.FunctionCall) { long("Object."+name, c.Arguments...) }); err != nil {
			return err
		}
	}
	if err := wrap(proto("Function"), "apply", func(c goja.FunctionCall) { long("apply", c.Argument(1)) }); err != nil {
		return err
	}
	refl := vm.Get("Reflect").ToObject(vm)
	for _, name := range []string{"apply", "construct"} {
		at := 2
		if name == "construct" {
			at = 1
		}
		if err := wrap(refl, name, func(c goja.FunctionCall) { long("Reflect."+name, c.Argument(at)) }); err != nil {
			return err
		}
	}
	// Compiling is native too: code made at run time is held to the
	// size of a transformation's source.
	source := func(what string) func(goja.FunctionCall) {
		return func(c goja.FunctionCall) {
			var n int64
			for _, a := range c.Arguments {
				n += lengthOf(a)
			}
			if n > MaxSourceBytes {
				rangeErr(what + " of more than " + fmt.Sprint(MaxSourceBytes) + " characters")
			}
		}
	}
	if err := wrap(g, "eval", source("eval")); err != nil {
		return err
	}
	fs, err := vm.RunProgram(functionKinds)
	if err != nil {
		return err
	}
	for i, name := range []string{"Function", "", ""} {
		fp := fs.ToObject(vm).Get(fmt.Sprint(i)).ToObject(vm).Prototype()
		orig, ok := goja.AssertFunction(fp.Get("constructor"))
		if !ok {
			return fmt.Errorf("sandbox: function kind %d has no constructor", i)
		}
		check := source("a function constructor")
		// A constructor, so that new Function(...) works as before.
		ctor := vm.ToValue(func(c goja.ConstructorCall) *goja.Object {
			check(goja.FunctionCall{Arguments: c.Arguments})
			v, err := orig(goja.Undefined(), c.Arguments...)
			if err != nil {
				panic(err)
			}
			return v.ToObject(vm)
		}).ToObject(vm)
		if err := ctor.DefineDataProperty("prototype", fp, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
			return err
		}
		if err := fp.DefineDataProperty("constructor", ctor, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
			return err
		}
		if name != "" {
			if err := g.DefineDataProperty(name, ctor, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE); err != nil {
				return err
			}
		}
	}
	js := vm.Get("JSON").ToObject(vm)
	if err := wrap(js, "parse", func(c goja.FunctionCall) {
		if lengthOf(c.Argument(0)) > maxChars/4 {
			rangeErr("JSON.parse")
		}
	}); err != nil {
		return err
	}
	return wrap(js, "stringify", func(c goja.FunctionCall) {
		if !fitsJSON(c.Argument(0), maxElems) {
			rangeErr("JSON.stringify")
		}
	})
}

// functionKinds reaches the constructors of plain, generator and async
// functions, which make code from strings like eval.
var functionKinds = goja.MustCompile("kinds.js", "[function () {}, function* () {}, async function () {}]", false)

// errStopped ends a built-in called after the watcher stopped the call.
var errStopped = errors.New("stopped")

// joinFits reports whether joining the n elements of v with a separator
// of sep characters makes at most max characters, counting the strings it
// holds (nested arrays are checked when join reaches them).
func joinFits(vm *goja.Runtime, v goja.Value, n, sep, max int64) bool {
	total := n * sep
	o, ok := v.(*goja.Object)
	if !ok || total > max {
		return total <= max
	}
	for i := int64(0); i < n; i++ {
		if x := o.Get(strconv.FormatInt(i, 10)); x != nil && x.ExportType() == reflect.TypeFor[string]() {
			if total += x.ToObject(vm).Get("length").ToInteger(); total > max {
				return false
			}
		}
	}
	return true
}

// argString is a separator argument as join reads it: "," when absent.
func argString(v goja.Value) string {
	if v == nil || goja.IsUndefined(v) {
		return ","
	}
	return v.String()
}

// fitsJSON walks v (once per object) and reports whether it holds no
// array longer than max and no more than max values in all: stringify
// writes every hole of a sparse array.
func fitsJSON(v goja.Value, max int64) bool {
	seen := map[*goja.Object]bool{}
	stack := []goja.Value{v}
	var n int64
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		o, ok := v.(*goja.Object)
		if !ok || seen[o] {
			continue
		}
		seen[o] = true
		if o.ClassName() == "Function" {
			continue
		}
		if o.ClassName() == "Array" {
			l := o.Get("length").ToInteger()
			if n += l; l > max || n > max {
				return false
			}
			for _, k := range o.Keys() {
				stack = append(stack, o.Get(k))
			}
			continue
		}
		keys := o.Keys()
		if n += int64(len(keys)); n > max {
			return false
		}
		for _, k := range keys {
			stack = append(stack, o.Get(k))
		}
	}
	return true
}
