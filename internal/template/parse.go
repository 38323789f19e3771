package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// part is a piece of a text template: literal text or a tag.
type part struct {
	lit string
	tag *tag
}

// root says where a tag's path starts.
type root uint8

const (
	rootAuto    root = iota // the payload, then the titles
	rootPayload             // the payload, named explicitly with "payload."
	rootEventID
	rootEventType
	rootEventTimestamp
	rootAppID
	rootAppUID
	rootAppName
	rootEndpointID
	rootDeliveryID
	rootBatchID
	rootBatchSize
	rootBatchEvents
)

// metaPaths are the metadata names; any other path is a payload path.
var metaPaths = map[string]root{
	"event.id":        rootEventID,
	"event.type":      rootEventType,
	"event.timestamp": rootEventTimestamp,
	"app.id":          rootAppID,
	"app.uid":         rootAppUID,
	"app.name":        rootAppName,
	"endpoint.id":     rootEndpointID,
	"delivery.id":     rootDeliveryID,
}

// batchPaths are the names of a batch body template (Options.Batch), which
// renders once for a batched request; elsewhere they are payload paths.
var batchPaths = map[string]root{
	"batch.id":     rootBatchID,
	"batch.size":   rootBatchSize,
	"batch.events": rootBatchEvents,
}

// names is what a path may resolve to besides the payload.
type names struct {
	titles map[string]string
	batch  bool
}

// segment is one step of a payload path.
type segment struct {
	key string
	// index is the array index the key spells, or -1.
	index int
}

// tag is a compiled {{ path | filters }}.
type tag struct {
	path    string // as written, trimmed
	root    root
	segs    []segment // payload path (rootAuto, rootPayload)
	title   []segment // payload path of the title equal to path, if any
	filters []filter
}

// perr is a parse error at a byte offset of the string being parsed; the
// caller turns it into a ParseError against the right source.
type perr struct {
	pos int
	msg string
}

// parseParts splits a text template into literal text and tags.
func parseParts(src string, syn Syntax, nm names) ([]part, *perr) {
	open, close, ok := syn.delims()
	if !ok {
		return nil, &perr{0, fmt.Sprintf("unknown template syntax %d", int(syn))}
	}
	var parts []part
	lit := 0
	for i := 0; ; {
		j := strings.Index(src[i:], open)
		if j < 0 {
			break
		}
		start := i + j
		// In a run of braces the tag starts at the last two, so that
		// {{{x}}} is a literal brace around a tag.
		for open[0] == '{' && start+len(open) < len(src) && src[start+len(open)] == '{' {
			start++
		}
		t, end, e := parseTag(src, start, open, close, nm)
		if e != nil {
			return nil, e
		}
		if start > lit {
			parts = append(parts, part{lit: src[lit:start]})
		}
		parts = append(parts, part{tag: t})
		i, lit = end, end
	}
	if lit < len(src) {
		parts = append(parts, part{lit: src[lit:]})
	}
	return parts, nil
}

// isSpace reports the white space allowed around a tag's path, "|" and
// ":", including the ideographic space of Japanese input methods.
func isSpace(r rune) bool { return unicode.IsSpace(r) }

func skipSpace(s string, p int) int {
	for p < len(s) {
		r, n := utf8.DecodeRuneInString(s[p:])
		if !isSpace(r) {
			break
		}
		p += n
	}
	return p
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// parseTag parses the tag whose opening delimiter is at start and returns
// it with the offset just past its closing delimiter.
func parseTag(src string, start int, open, close string, nm names) (*tag, int, *perr) {
	unclosed := &perr{start, fmt.Sprintf("unclosed tag: %q has no matching %q", open, close)}
	p := start + len(open)
	pathStart := p
	for p < len(src) && src[p] != '|' && src[p] != '}' && src[p] != '{' {
		p++
	}
	if p >= len(src) {
		return nil, 0, unclosed
	}
	switch {
	case strings.HasPrefix(src[p:], open) || strings.HasPrefix(src[p-1:], open):
		// Another tag starts: this one was not closed.
		return nil, 0, unclosed
	case src[p] == '{':
		return nil, 0, &perr{p, `unexpected "{" in a tag`}
	case src[p] == '}' && !strings.HasPrefix(src[p:], close):
		return nil, 0, &perr{p, fmt.Sprintf(`unexpected "}" in a tag (a tag ends with %q)`, close)}
	}

	raw := src[pathStart:p]
	path := strings.TrimLeftFunc(raw, isSpace)
	pathPos := pathStart + len(raw) - len(path)
	path = strings.TrimRightFunc(path, isSpace)
	if path == "" {
		if src[p] == '|' {
			return nil, 0, &perr{p, `missing path before "|"`}
		}
		return nil, 0, &perr{start, "empty tag"}
	}
	t, e := newTag(path, pathPos, nm)
	if e != nil {
		return nil, 0, e
	}

	for {
		if strings.HasPrefix(src[p:], close) {
			return t, p + len(close), nil
		}
		// src[p] is "|".
		p = skipSpace(src, p+1)
		nameStart := p
		for p < len(src) && isNameByte(src[p]) {
			p++
		}
		name := src[nameStart:p]
		if name == "" {
			if p >= len(src) || strings.HasPrefix(src[p:], open) {
				return nil, 0, unclosed
			}
			return nil, 0, &perr{nameStart, `missing filter name after "|"`}
		}
		kind, ok := filterKinds[name]
		if !ok {
			return nil, 0, &perr{nameStart, fmt.Sprintf("unknown filter %q (filters: %s)", name, filterNames)}
		}
		p = skipSpace(src, p)
		var a arg
		argPos := nameStart
		if p < len(src) && src[p] == ':' {
			p = skipSpace(src, p+1)
			argPos = p
			var e *perr
			a, p, e = parseArg(src, p, unclosed)
			if e != nil {
				return nil, 0, e
			}
			p = skipSpace(src, p)
		}
		f, msg := newFilter(kind, name, a)
		if msg != "" {
			return nil, 0, &perr{argPos, msg}
		}
		if kind == fOr {
			alt, e := newTag(a.s, argPos, nm)
			if e != nil {
				return nil, 0, e
			}
			f.alt = alt
		}
		t.filters = append(t.filters, f)
		switch {
		case p >= len(src) || strings.HasPrefix(src[p:], open):
			return nil, 0, unclosed
		case src[p] == '|' || strings.HasPrefix(src[p:], close):
		case src[p] == ':':
			return nil, 0, &perr{p, fmt.Sprintf("filter %q takes a single argument", name)}
		default:
			r, _ := utf8.DecodeRuneInString(src[p:])
			return nil, 0, &perr{p, fmt.Sprintf("unexpected %q after filter %q", r, name)}
		}
	}
}

// arg is a filter argument as written.
type arg struct {
	present bool
	isNum   bool
	s       string // the decoded string, or the number's text
}

// parseArg parses a filter argument at p: a JSON string or number.
func parseArg(src string, p int, unclosed *perr) (arg, int, *perr) {
	if p >= len(src) {
		return arg{}, p, unclosed
	}
	switch c := src[p]; {
	case c == '"':
		q := p + 1
		for q < len(src) && src[q] != '"' {
			if src[q] == '\\' {
				q++
			}
			q++
		}
		if q >= len(src) {
			return arg{}, p, &perr{p, "unterminated string argument"}
		}
		var s string
		if err := json.Unmarshal([]byte(src[p:q+1]), &s); err != nil {
			msg := "invalid string argument"
			var se *json.SyntaxError
			if errors.As(err, &se) {
				msg += ": " + se.Error()
			}
			return arg{}, p, &perr{p, msg}
		}
		return arg{present: true, s: s}, q + 1, nil
	case c == '-' || '0' <= c && c <= '9':
		q := p
		for q < len(src) && strings.IndexByte("0123456789.eE+-", src[q]) >= 0 {
			q++
		}
		if !isJSONNumber(src[p:q]) {
			return arg{}, p, &perr{p, fmt.Sprintf("invalid number argument %q", src[p:q])}
		}
		return arg{present: true, isNum: true, s: src[p:q]}, q, nil
	case strings.HasPrefix(src[p:], "}") || c == '|':
		return arg{}, p, &perr{p, `missing argument after ":"`}
	default:
		return arg{}, p, &perr{p, `an argument must be a "quoted string" or a number`}
	}
}

// newTag resolves a path that is known not to be empty.
func newTag(path string, pos int, nm names) (*tag, *perr) {
	t := &tag{path: path}
	if r, ok := metaPaths[path]; ok {
		t.root = r
		return t, nil
	}
	if r, ok := batchPaths[path]; ok && nm.batch {
		t.root = r
		return t, nil
	}
	segs, ok := splitPath(path)
	if !ok {
		return nil, &perr{pos, fmt.Sprintf("path %q has an empty segment (two dots in a row, or a dot at an end)", path)}
	}
	if segs[0].key == "payload" {
		t.root = rootPayload
		t.segs = segs[1:]
		return t, nil
	}
	t.segs = segs
	if tp, ok := nm.titles[path]; ok {
		t.title, _ = splitPath(tp)
	}
	return t, nil
}

// splitPath splits a dotted path; it fails on an empty segment.
func splitPath(path string) ([]segment, bool) {
	if path == "" {
		return nil, false
	}
	segs := make([]segment, 0, strings.Count(path, ".")+1)
	for key := range strings.SplitSeq(path, ".") {
		if key == "" {
			return nil, false
		}
		segs = append(segs, segment{key: key, index: arrayIndex(key)})
	}
	return segs, true
}

// arrayIndex returns the array index a segment spells (decimal digits
// without a leading zero), or -1.
func arrayIndex(s string) int {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return -1
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// isJSONNumber reports whether s is a number in JSON's grammar, the only
// number text that may be written into a JSON document as is.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}

// pathList collects the paths of a template's tags, once each, in the
// order they are first written.
type pathList struct {
	list []string
	seen map[string]bool
}

func (l *pathList) add(parts []part) {
	for _, p := range parts {
		if p.tag == nil {
			continue
		}
		l.addPath(p.tag.path)
		for _, f := range p.tag.filters {
			if f.alt != nil {
				l.addPath(f.alt.path)
			}
		}
	}
}

func (l *pathList) addPath(path string) {
	if l.seen[path] {
		return
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[path] = true
	l.list = append(l.list, path)
}
