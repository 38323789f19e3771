package template

import (
	"encoding/json"
	"net/url"
	"strconv"
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
	kTooLarge              // a filter's result would pass the rendering's limit
)

// value is what a tag evaluates to. It keeps strings and numbers unboxed
// so that metadata and filter results cost no interface allocation.
type value struct {
	k kind
	s string
	b bool
	v any
	// raw is the JSON text of a kComposite value taken from the payload's
	// own text, so that it is written with the key order the sender chose
	// rather than the sorted order of a decoded map; nil when unknown.
	raw []byte
	// failed is the filter that could not apply, when k is kMissing
	// because of it.
	failed *filter
	// trusted marks raw as JSON Herald made (a batch's elements): it is
	// written as it is, byte for byte what each element's attempt
	// records.
	trusted bool
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

// eval computes a tag's value: the path, then each filter in turn. No
// filter's result may pass limit bytes (the value is then kTooLarge), so
// that a chain of growing filters cannot do unbounded work.
func (t *tag) eval(d *Data, limit int) value {
	var v value
	switch t.root {
	case rootAuto:
		if x, ok := lookup(d.Payload, t.segs); ok {
			v = fromPayload(d, x, t.segs)
		} else if t.title != nil {
			if x, ok := lookup(d.Payload, t.title); ok {
				v = fromPayload(d, x, t.title)
			}
		}
	case rootPayload:
		if x, ok := lookup(d.Payload, t.segs); ok {
			v = fromPayload(d, x, t.segs)
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
	case rootDeliveryID:
		v = stringValue(d.Delivery.ID)
	case rootBatchID:
		v = stringValue(d.Batch.ID)
	case rootBatchSize:
		v = value{k: kNumber, s: strconv.Itoa(d.Batch.Size)}
	case rootBatchEvents:
		if d.Batch.Events != nil {
			v = value{k: kComposite, raw: d.Batch.Events, trusted: true}
		}
	}
	// A filter either passes its value on whole (raw and all) or builds
	// a new one without raw, so raw always matches v.
	for i := range t.filters {
		if f := &t.filters[i]; f.kind == fOr {
			// The other path stands in for a value that is not there;
			// it has no filters of its own, so this never recurses.
			if v.k == kMissing || v.k == kNull || v.k == kString && v.s == "" {
				v = f.alt.eval(d, limit)
			}
			continue
		}
		v = t.filters[i].apply(v, limit)
	}
	return v
}

// fromPayload is fromAny for a value found at segs in the payload, with
// the value's own JSON text when it is an object or an array and the
// payload's text is known.
func fromPayload(d *Data, x any, segs []segment) value {
	v := fromAny(x)
	if v.k == kComposite && d.RawPayload != nil {
		v.raw = rawLookup(d.RawPayload, segs)
	}
	return v
}

// rawLookup follows a payload path in the payload's JSON text and returns
// the text of the value found, or nil. A repeated key resolves to its last
// value, as it does when the payload is decoded.
func rawLookup(raw []byte, segs []segment) []byte {
	for _, s := range segs {
		switch firstByte(raw) {
		case '{':
			var m map[string]json.RawMessage
			if json.Unmarshal(raw, &m) != nil {
				return nil
			}
			v, ok := m[s.key]
			if !ok {
				return nil
			}
			raw = v
		case '[':
			var a []json.RawMessage
			if json.Unmarshal(raw, &a) != nil || s.index < 0 || s.index >= len(a) {
				return nil
			}
			raw = a[s.index]
		default:
			return nil
		}
	}
	return raw
}

// firstByte is the first byte of JSON text that is not white space.
func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// value evaluates the tag for a rendering that may produce at most limit
// bytes: a value over the limit is ErrTooLarge, and a missing one an error
// when the template is strict.
func (t *tag) value(d *Data, strict bool, limit int) (value, error) {
	v := t.eval(d, limit)
	switch {
	case v.k == kTooLarge:
		return v, ErrTooLarge
	case v.k == kMissing && strict:
		return v, t.missingError(v)
	}
	return v, nil
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
// ok is false when the text would pass limit bytes; an object or array is
// then not written out past it.
func (v value) text(limit int) (s string, ok bool) {
	switch v.k {
	case kString, kNumber:
		s = v.s
	case kBool:
		s = strconv.FormatBool(v.b)
	case kComposite:
		b := appendComposite(nil, v, maxDepth, limit)
		if b == nil {
			return "", false
		}
		s = string(b)
	}
	return s, len(s) <= limit
}

// appendText appends v's text without building a string when it can; ok
// is false when the result would pass limit bytes.
func (v value) appendText(dst []byte, limit int) (out []byte, ok bool) {
	switch v.k {
	case kString, kNumber:
		if len(dst)+len(v.s) > limit {
			return dst, false
		}
		return append(dst, v.s...), true
	case kBool:
		out = strconv.AppendBool(dst, v.b)
		return out, len(out) <= limit
	case kComposite:
		out = appendComposite(dst, v, maxDepth, limit)
		return out, out != nil
	}
	return dst, true
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
	fOr
)

var filterKinds = map[string]filterKind{
	"default":   fDefault,
	"upper":     fUpper,
	"lower":     fLower,
	"json":      fJSON,
	"urlencode": fURLEncode,
	"truncate":  fTruncate,
	"date":      fDate,
	"or":        fOr,
}

// filterNames lists the filters for error messages, in the order the
// documentation gives them.
const filterNames = "default, or, upper, lower, json, urlencode, truncate, date"

// filter is a compiled filter with its argument.
type filter struct {
	kind filterKind
	name string
	def  value    // default
	n    int      // truncate
	date dateSpec // date
	alt  *tag     // or: the path whose value stands in
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
	case fOr:
		// The path itself is read by the caller, which knows the titles.
		if !a.present || a.isNum || a.s == "" {
			return f, `filter "or" needs a path in quotes, e.g. or:"name"`
		}
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
// default still applies), except for default itself; a value over limit
// stays over it.
func (f *filter) apply(v value, limit int) value {
	if f.kind == fDefault {
		if v.k == kMissing || v.k == kNull || v.k == kString && v.s == "" {
			return f.def
		}
		return v
	}
	if v.k == kMissing || v.k == kTooLarge {
		return v
	}
	switch f.kind {
	case fUpper, fLower, fURLEncode, fTruncate:
		s, ok := v.text(limit)
		if !ok {
			return value{k: kTooLarge}
		}
		switch f.kind {
		case fUpper:
			s = strings.ToUpper(s)
		case fLower:
			s = strings.ToLower(s)
		case fURLEncode:
			s = url.QueryEscape(s)
		case fTruncate:
			s = truncate(s, f.n)
		}
		if len(s) > limit {
			return value{k: kTooLarge}
		}
		return stringValue(s)
	case fJSON:
		b := appendJSONValue(nil, v, maxDepth, limit)
		if b == nil {
			return value{k: kTooLarge}
		}
		return stringValue(string(b))
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
