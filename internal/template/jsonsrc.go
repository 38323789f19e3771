package template

import (
	"encoding/json"
	"errors"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// node is a JSON template document, keeping object members in the order
// written (a map would lose it).
type node struct {
	kind nodeKind
	// raw is the literal text of a number, true, false or null.
	raw string
	// parts is a string's text template.
	parts []part
	// keys are an object's member names, each a text template; vals are
	// the object's values or the array's elements.
	keys [][]part
	vals []*node
}

type nodeKind uint8

const (
	nLiteral nodeKind = iota
	nString
	nObject
	nArray
)

// whole returns the tag of a string that is exactly one tag.
func (n *node) whole() *tag {
	if n.kind == nString && len(n.parts) == 1 {
		return n.parts[0].tag
	}
	return nil
}

// srcParser reads a JSON document already checked by json.Valid.
type srcParser struct {
	src   []byte
	pos   int
	syn   Syntax
	names names
	paths pathList
}

var errBadJSON = errors.New("invalid JSON")

// parseDocument parses the whole document; errors are *ParseError.
func parseDocument(src []byte, syn Syntax, nm names) (*node, []string, error) {
	if !json.Valid(src) {
		var x any
		err := json.Unmarshal(src, &x)
		pos := len(src)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			pos = int(se.Offset) - 1
		}
		msg := "invalid JSON"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, nil, newParseError(src, pos, msg)
	}
	p := &srcParser{src: src, syn: syn, names: nm}
	n, err := p.value()
	if err != nil {
		return nil, nil, err
	}
	return n, p.paths.list, nil
}

func (p *srcParser) skipWS() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *srcParser) value() (*node, error) {
	p.skipWS()
	if p.pos >= len(p.src) {
		return nil, newParseError(p.src, p.pos, errBadJSON.Error())
	}
	switch p.src[p.pos] {
	case '{':
		p.pos++
		n := &node{kind: nObject}
		for {
			p.skipWS()
			if p.pos < len(p.src) && p.src[p.pos] == '}' {
				p.pos++
				return n, nil
			}
			if p.pos < len(p.src) && p.src[p.pos] == ',' {
				p.pos++
				p.skipWS()
			}
			key, err := p.str()
			if err != nil {
				return nil, err
			}
			p.skipWS()
			if p.pos >= len(p.src) || p.src[p.pos] != ':' {
				return nil, newParseError(p.src, p.pos, errBadJSON.Error())
			}
			p.pos++
			val, err := p.value()
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, key.parts)
			n.vals = append(n.vals, val)
		}
	case '[':
		p.pos++
		n := &node{kind: nArray}
		for {
			p.skipWS()
			if p.pos < len(p.src) && p.src[p.pos] == ']' {
				p.pos++
				return n, nil
			}
			if p.pos < len(p.src) && p.src[p.pos] == ',' {
				p.pos++
			}
			val, err := p.value()
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, val)
		}
	case '"':
		return p.str()
	default:
		start := p.pos
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			p.pos++
		}
		if p.pos == start {
			return nil, newParseError(p.src, p.pos, errBadJSON.Error())
		}
		return &node{kind: nLiteral, raw: string(p.src[start:p.pos])}, nil
	}
}

// str parses a string token into a text template. Errors inside it point
// at the exact byte of the document, through any escapes.
func (p *srcParser) str() (*node, error) {
	if p.pos >= len(p.src) || p.src[p.pos] != '"' {
		return nil, newParseError(p.src, p.pos, errBadJSON.Error())
	}
	start := p.pos + 1
	q := start
	for q < len(p.src) && p.src[q] != '"' {
		if p.src[q] == '\\' {
			q++
		}
		q++
	}
	if q >= len(p.src) {
		return nil, newParseError(p.src, p.pos, errBadJSON.Error())
	}
	raw := p.src[start:q]
	p.pos = q + 1
	s := unquote(raw)
	parts, e := parseParts(s, p.syn, p.names)
	if e != nil {
		return nil, newParseError(p.src, start+rawOffset(raw, e.pos), e.msg)
	}
	p.paths.add(parts)
	return &node{kind: nString, parts: parts}, nil
}

// walkString decodes the inside of a JSON string token as encoding/json
// does (invalid UTF-8 and lone surrogates become U+FFFD), calling emit for
// each decoded unit with the offset in raw where it starts.
func walkString(raw []byte, emit func(rawPos int, r rune, b []byte)) {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			switch e := raw[i+1]; e {
			case 'b':
				emit(i, '\b', nil)
			case 'f':
				emit(i, '\f', nil)
			case 'n':
				emit(i, '\n', nil)
			case 'r':
				emit(i, '\r', nil)
			case 't':
				emit(i, '\t', nil)
			case 'u':
				r := getu4(raw[i:])
				if r < 0 {
					emit(i, unicode.ReplacementChar, nil)
					i += 2
					continue
				}
				n := 6
				if utf16.IsSurrogate(r) {
					r2 := getu4(raw[i+6:])
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						r, n = dec, 12
					} else {
						r = unicode.ReplacementChar
					}
				}
				emit(i, r, nil)
				i += n
				continue
			default: // " \ /
				emit(i, rune(e), nil)
			}
			i += 2
		case c < utf8.RuneSelf:
			emit(i, rune(c), nil)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				emit(i, unicode.ReplacementChar, nil)
			} else {
				emit(i, r, raw[i:i+size])
			}
			i += size
		}
	}
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// unquote decodes the inside of a JSON string token.
func unquote(raw []byte) string {
	simple := utf8.Valid(raw)
	for _, c := range raw {
		if c == '\\' {
			simple = false
			break
		}
	}
	if simple {
		return string(raw)
	}
	b := make([]byte, 0, len(raw))
	walkString(raw, func(_ int, r rune, enc []byte) {
		if enc != nil {
			b = append(b, enc...)
		} else {
			b = utf8.AppendRune(b, r)
		}
	})
	return string(b)
}

// rawOffset maps a byte offset of the decoded string to the offset in raw
// of the character (or escape) that produced it.
func rawOffset(raw []byte, decoded int) int {
	out := len(raw)
	n := 0
	found := false
	walkString(raw, func(rawPos int, r rune, enc []byte) {
		if found {
			return
		}
		size := len(enc)
		if enc == nil {
			size = utf8.RuneLen(r)
		}
		if decoded < n+size {
			out, found = rawPos, true
			return
		}
		n += size
	})
	return out
}
