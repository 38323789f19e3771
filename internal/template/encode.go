package template

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of objects and arrays written, the
// limit of encoding/json and more than any real document needs. A value
// that would nest deeper (counting the template around it) is written as
// null, so that the body still parses, and a cyclic Go value given as
// payload ends instead of exhausting the stack.
const maxDepth = 10000

const hexDigits = "0123456789abcdef"

// plain marks the ASCII bytes written as is inside a JSON string. The
// others are escaped: quote and backslash by necessity, control
// characters because JSON forbids them raw, and < > & so that a body
// pasted into HTML cannot close a script element.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// appendString appends s as a quoted JSON string, or returns nil when the
// result would pass limit bytes. A string that cannot fit even unescaped
// is refused before it is copied.
func appendString(dst []byte, s string, limit int) []byte {
	if len(dst)+len(s)+2 > limit {
		return nil
	}
	// One byte is kept for the closing quote.
	if dst = appendStringContent(append(dst, '"'), s, limit-1); dst == nil {
		return nil
	}
	return append(dst, '"')
}

// appendStringContent appends s escaped for the inside of a JSON string:
// escapes as encoding/json writes them, U+2028 and U+2029 escaped (they
// end a line in JavaScript), invalid UTF-8 replaced by U+FFFD. It returns
// nil as soon as the result passes limit bytes: escapes may make it up
// to six times longer than s.
func appendStringContent(dst []byte, s string, limit int) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			if len(dst) > limit {
				return nil
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			if dst = append(dst, `\ufffd`...); len(dst) > limit {
				return nil
			}
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			if dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF]); len(dst) > limit {
				return nil
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	if len(dst)+len(s)-start > limit {
		return nil
	}
	return append(dst, s[start:]...)
}

// appendJSONValue appends v as JSON, nesting at most room levels; missing
// is null. It returns nil when the result would pass limit bytes.
func appendJSONValue(dst []byte, v value, room, limit int) []byte {
	switch v.k {
	case kString:
		return appendString(dst, v.s, limit)
	case kNumber:
		return appendNumber(dst, v.s, limit)
	case kBool:
		return within(strconv.AppendBool(dst, v.b), limit)
	case kComposite:
		return appendComposite(dst, v, room, limit)
	}
	return within(append(dst, "null"...), limit)
}

// within returns dst, or nil when it is over limit bytes: the signal
// every limited appender gives, since appending to nil never gives nil.
func within(dst []byte, limit int) []byte {
	if len(dst) > limit {
		return nil
	}
	return dst
}

// appendNumber writes a number's text as is when it is a JSON number, and
// as a string otherwise (a json.Number built by hand may hold anything);
// nil past limit bytes.
func appendNumber(dst []byte, s string, limit int) []byte {
	if isJSONNumber(s) {
		return within(append(dst, s...), limit)
	}
	return appendString(dst, s, limit)
}

// appendJSONAny appends a payload value as compact JSON. Object keys are
// sorted, as encoding/json does, so the output does not depend on map
// order (appendComposite keeps the sender's order when it has the text). Objects and arrays nest at most room levels. It returns nil as
// soon as the result passes limit bytes, so that a large value is never
// written whole past the limit.
func appendJSONAny(dst []byte, x any, room, limit int) []byte {
	switch x.(type) {
	case map[string]any, []any:
		if room <= 0 {
			return within(append(dst, "null"...), limit)
		}
	}
	switch x := x.(type) {
	case nil:
		return within(append(dst, "null"...), limit)
	case string:
		return appendString(dst, x, limit)
	case json.Number:
		return appendNumber(dst, string(x), limit)
	case bool:
		return within(strconv.AppendBool(dst, x), limit)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst = appendString(dst, k, limit); dst == nil {
				return nil
			}
			dst = append(dst, ':')
			if dst = appendJSONAny(dst, x[k], room-1, limit); dst == nil {
				return nil
			}
		}
		return within(append(dst, '}'), limit)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst = appendJSONAny(dst, e, room-1, limit); dst == nil {
				return nil
			}
		}
		return within(append(dst, ']'), limit)
	}
	return within(appendMarshal(dst, x), limit)
}

// appendMarshal writes any other Go value through encoding/json; a value
// it cannot encode (or whose MarshalJSON panics) is written as null, so
// that the document stays valid.
func appendMarshal(dst []byte, x any) (out []byte) {
	defer func() {
		if recover() != nil {
			out = append(dst, "null"...)
		}
	}()
	b, err := json.Marshal(x)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

// appendComposite appends an object or array as compact JSON: from the
// payload's own text when it is known, so that keys keep the sender's
// order, else from the decoded value. "<", ">", "&", U+2028 and U+2029
// are escaped as everywhere else. Text that is not valid UTF-8 or nests
// deeper than room levels is written from the decoded value, which
// repairs or bounds it, so that the output is always valid JSON.
func appendComposite(dst []byte, v value, room, limit int) []byte {
	if v.trusted {
		return within(append(dst, v.raw...), limit)
	}
	if v.raw != nil {
		var c bytes.Buffer
		if json.Compact(&c, v.raw) == nil && utf8.Valid(c.Bytes()) && jsonDepth(c.Bytes()) <= room {
			buf := bytes.NewBuffer(dst)
			json.HTMLEscape(buf, c.Bytes())
			return within(buf.Bytes(), limit)
		}
	}
	return appendJSONAny(dst, v.v, room, limit)
}

// jsonDepth is the deepest nesting of objects and arrays in valid JSON
// text.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
