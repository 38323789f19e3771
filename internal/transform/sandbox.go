package transform

import (
	"fmt"

	"github.com/dop251/goja"
)

// removed are globals a transformation has no use for whose constructors
// allocate a whole buffer in one native step.
var removed = []string{"ArrayBuffer", "SharedArrayBuffer", "DataView", "Int8Array", "Uint8Array",
	"Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array",
	"Float64Array", "BigInt64Array", "BigUint64Array", "WeakRef", "FinalizationRegistry"}

// sandbox takes from vm what a script must not reach and puts size checks
// in front of the built-ins that allocate in one native step, where an
// interrupt cannot reach: they refuse, with a RangeError, what would pass
// the memory limit. goja itself brings no require, console, timers,
// network or file system.
func (e *Engine) sandbox(vm *goja.Runtime) error {
	g := vm.GlobalObject()
	for _, name := range removed {
		if err := g.Delete(name); err != nil {
			return err
		}
	}
	// A character may take two bytes; a value sixteen.
	maxChars := e.lim.Memory / 2
	maxElems := e.lim.Memory / 16
	tooBig := func(what string) {
		panic(vm.NewGoError(fmt.Errorf("%s: over the memory limit of %d MiB", what, e.lim.Memory>>20)))
	}
	rangeErr := func(what string) {
		ctor := vm.Get("RangeError")
		o, err := vm.New(ctor, vm.ToValue(fmt.Sprintf("%s would pass the memory limit of %d MiB", what, e.lim.Memory>>20)))
		if err != nil {
			tooBig(what)
		}
		panic(o)
	}
	lengthOf := func(v goja.Value) int64 {
		o, ok := v.(*goja.Object)
		if !ok {
			return 0
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
	wrap := func(obj *goja.Object, name string, check func(call goja.FunctionCall)) error {
		orig, ok := goja.AssertFunction(obj.Get(name))
		if !ok {
			return fmt.Errorf("sandbox: %s is not a function", name)
		}
		return obj.DefineDataProperty(name, vm.ToValue(func(call goja.FunctionCall) goja.Value {
			check(call)
			v, err := orig(call.This, call.Arguments...)
			if err != nil {
				panic(err)
			}
			return v
		}), goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	}
	str := vm.Get("String").ToObject(vm).Get("prototype").ToObject(vm)
	if err := wrap(str, "repeat", func(c goja.FunctionCall) {
		n := c.Argument(0).ToFloat()
		if n > 0 && float64(len(c.This.String()))*n > float64(maxChars) {
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
	arrayCtor := vm.Get("Array").ToObject(vm)
	arr := arrayCtor.Get("prototype").ToObject(vm)
	// Every Array.prototype method loops natively over this.length: a
	// sparse array of a billion holes costs nothing to make and much to
	// fill, join, map or copy.
	for _, name := range arr.GetOwnPropertyNames() {
		// Keys() leaves out non-enumerable properties, which built-ins are.
		if _, ok := goja.AssertFunction(arr.Get(name)); !ok || name == "constructor" {
			continue
		}
		if err := wrap(arr, name, func(c goja.FunctionCall) {
			if lengthOf(c.This) > maxElems {
				rangeErr("Array.prototype." + name + " on an array this long")
			}
			if name == "join" && float64(lengthOf(c.This))*float64(len(argString(c.Argument(0)))) > float64(maxChars) {
				rangeErr("join")
			}
		}); err != nil {
			return err
		}
	}
	if err := wrap(arrayCtor, "from", func(c goja.FunctionCall) {
		if lengthOf(c.Argument(0)) > maxElems {
			rangeErr("Array.from")
		}
	}); err != nil {
		return err
	}
	fn := vm.Get("Function").ToObject(vm).Get("prototype").ToObject(vm)
	if err := wrap(fn, "apply", func(c goja.FunctionCall) {
		if lengthOf(c.Argument(1)) > maxElems {
			rangeErr("apply")
		}
	}); err != nil {
		return err
	}
	refl := vm.Get("Reflect").ToObject(vm)
	for _, name := range []string{"apply", "construct"} {
		at := 2
		if name == "construct" {
			at = 1
		}
		if err := wrap(refl, name, func(c goja.FunctionCall) {
			if lengthOf(c.Argument(at)) > maxElems {
				rangeErr("Reflect." + name)
			}
		}); err != nil {
			return err
		}
	}
	js := vm.Get("JSON").ToObject(vm)
	return wrap(js, "stringify", func(c goja.FunctionCall) {
		if !fitsJSON(c.Argument(0), maxElems) {
			rangeErr("JSON.stringify")
		}
	})
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
