package template

import (
	"encoding/json"
	"net/url"
	"strings"
	"unicode/utf8"
)

// kind is the type of a value during rendering.
type kind uint8

const (
	kMissing   kind = iota // no such value, or a filter could not apply
	kNull                  // JSON null
	kString                // s
	kNumber                // s holds the number's text
	kBool                  // b
	kComposite             // v: an object, an array or another Go value
)

// value is what a tag evaluates to. It keeps strings and numbers unboxed
// so that metadata and filter results cost no interface allocation.
type value struct {
	k kind
	s string
	b bool
	v any
	// failed is the filter that could not apply, when k is kMissing
	// because of it.
	failed *filter
}

func fromAny(x any) value {
	switch x := x.(type) {
	case nil:
		return value{k: kNull}
	case string:
		return value{k: kString, s: x}
	case json.Number:
		return value{k: kNumber, s: string(x)}
	case bool:
		return value{k: kBool, b: x}
	}
	return value{k: kComposite, v: x}
}

func stringValue(s string) value { return value{k: kString, s: s} }

// lookup follows a payload path.
func lookup(x any, segs []segment) (any, bool) {
	for _, s := range segs {
		switch c := x.(type) {
		case map[string]any:
			v, ok := c[s.key]
			if !ok {
				return nil, false
			}
			x = v
		case []any:
			if s.index < 0 || s.index >= len(c) {
				return nil, false
			}
			x = c[s.index]
		default:
			return nil, false
		}
	}
	return x, true
}

// eval computes a tag's value: the path, then each filter in turn.
func (t *tag) eval(d *Data) value {
	var v value
	switch t.root {
	case rootAuto:
		if x, ok := lookup(d.Payload, t.segs); ok {
			v = fromAny(x)
		} else if t.title != nil {
			if x, ok := lookup(d.Payload, t.title); ok {
				v = fromAny(x)
			}
		}
	case rootPayload:
		if x, ok := lookup(d.Payload, t.segs); ok {
			v = fromAny(x)
		}
	case rootEventID:
		v = stringValue(d.Event.ID)
	case rootEventType:
		v = stringValue(d.Event.Type)
	case rootEventTimestamp:
		if !d.Event.Timestamp.IsZero() {
			v = stringValue(d.Event.Timestamp.UTC().Format(timestampLayout))
		}
	case rootAppID:
		v = stringValue(d.App.ID)
	case rootAppUID:
		v = stringValue(d.App.UID)
	case rootAppName:
		v = stringValue(d.App.Name)
	case rootEndpointID:
		v = stringValue(d.Endpoint.ID)
	}
	for i := range t.filters {
		v = t.filters[i].apply(v)
	}
	return v
}

// missingError is the strict-mode error for a tag whose value is missing.
func (t *tag) missingError(v value) error {
	if v.failed != nil {
		return &FilterError{Path: t.path, Filter: v.failed.name, Msg: v.failed.failMsg()}
	}
	return &MissingError{Path: t.path}
}

// text returns a value as text: strings as they are, numbers as their
// digits, null and missing as nothing, objects and arrays as compact JSON.
func (v value) text() string {
	switch v.k {
	case kString, kNumber:
		return v.s
	case kBool:
		if v.b {
			return "true"
		}
		return "false"
	case kComposite:
		return string(appendJSONAny(nil, v.v, maxDepth))
	}
	return ""
}

// appendText appends v.text() without building a string when it can.
func (v value) appendText(dst []byte) []byte {
	switch v.k {
	case kString, kNumber:
		return append(dst, v.s...)
	case kBool:
		if v.b {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case kComposite:
		return appendJSONAny(dst, v.v, maxDepth)
	}
	return dst
}

// filterKind names a filter.
type filterKind uint8

const (
	fDefault filterKind = iota
	fUpper
	fLower
	fJSON
	fURLEncode
	fTruncate
	fDate
)

var filterKinds = map[string]filterKind{
	"default":   fDefault,
	"upper":     fUpper,
	"lower":     fLower,
	"json":      fJSON,
	"urlencode": fURLEncode,
	"truncate":  fTruncate,
	"date":      fDate,
}

// filterNames lists the filters for error messages, in the order the
// documentation gives them.
const filterNames = "default, upper, lower, json, urlencode, truncate, date"

// filter is a compiled filter with its argument.
type filter struct {
	kind filterKind
	name string
	def  value    // default
	n    int      // truncate
	date dateSpec // date
}

// newFilter checks a filter's argument; msg is non-empty when it is wrong.
func newFilter(k filterKind, name string, a arg) (f filter, msg string) {
	f = filter{kind: k, name: name}
	switch k {
	case fDefault:
		if !a.present {
			return f, `filter "default" needs an argument, e.g. default:"n/a"`
		}
		if a.isNum {
			f.def = value{k: kNumber, s: a.s}
		} else {
			f.def = stringValue(a.s)
		}
	case fTruncate:
		n := -1
		if a.present && a.isNum {
			n = arrayIndex(a.s)
		}
		if n < 0 {
			return f, `filter "truncate" needs a whole number of characters, e.g. truncate:100`
		}
		f.n = n
	case fDate:
		if !a.present || a.isNum {
			return f, `filter "date" needs a format, e.g. date:"YYYY-MM-DD"`
		}
		f.date = compileDate(a.s)
	default:
		if a.present {
			return f, "filter " + quote(name) + " takes no argument"
		}
	}
	return f, ""
}

func quote(s string) string { return `"` + s + `"` }

// failMsg says why the filter could not apply.
func (f *filter) failMsg() string {
	if f.kind == fDate {
		return "not an RFC 3339 time or a Unix timestamp"
	}
	return "cannot apply"
}

// apply runs the filter. A missing value stays missing (so that a later
// default still applies), except for default itself.
func (f *filter) apply(v value) value {
	if f.kind == fDefault {
		if v.k == kMissing || v.k == kNull || v.k == kString && v.s == "" {
			return f.def
		}
		return v
	}
	if v.k == kMissing {
		return v
	}
	switch f.kind {
	case fUpper:
		return stringValue(strings.ToUpper(v.text()))
	case fLower:
		return stringValue(strings.ToLower(v.text()))
	case fJSON:
		return stringValue(string(appendJSONValue(nil, v, maxDepth)))
	case fURLEncode:
		return stringValue(url.QueryEscape(v.text()))
	case fTruncate:
		return stringValue(truncate(v.text(), f.n))
	case fDate:
		if v.k == kNull {
			return v
		}
		out, ok := f.date.apply(v)
		if !ok {
			return value{k: kMissing, failed: f}
		}
		return out
	}
	return v
}

// truncate keeps the first n characters of s.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for c := 0; c < n && i < len(s); c++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}
