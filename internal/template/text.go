package template

import (
	"math"
	"strings"
	"sync/atomic"
)

// Text is a parsed text template (a URL, a header value, a text body). It
// is parsed once per endpoint and rendered for every delivery; it is safe
// for concurrent use.
type Text struct {
	parts  []part
	strict bool
	paths  []string
	// size is the length of the last long rendering, to size the next
	// buffer in one allocation.
	size atomic.Int64
}

// ParseText parses a text template, so that mistakes are reported when the
// customer saves the endpoint rather than at delivery time.
func ParseText(src string, o Options) (*Text, error) {
	parts, e := parseParts(src, o.Syntax, names{titles: o.Titles, batch: o.Batch})
	if e != nil {
		return nil, newParseError([]byte(src), e.pos, e.msg)
	}
	var pl pathList
	pl.add(parts)
	t := &Text{parts: parts, strict: o.Strict, paths: pl.list}
	t.size.Store(int64(len(src)))
	return t, nil
}

// Render fills in the tags. Values are inserted as text (see the package
// documentation); the caller escapes for the destination, or uses
// RenderEscaped.
func (t *Text) Render(d *Data) (string, error) {
	return t.render(d, nil, math.MaxInt)
}

// RenderEscaped fills in the tags, passing each inserted value (not the
// literal text) through escape, so that a URL template can percent-encode
// values without mangling the URL the customer wrote around them.
func (t *Text) RenderEscaped(d *Data, escape func(string) string) (string, error) {
	return t.render(d, escape, math.MaxInt)
}

// RenderLimit is RenderEscaped (Render when escape is nil) for output of
// at most limit bytes: it stops with ErrTooLarge as soon as the text
// passes the limit, so that a template repeating a large value cannot make
// Herald build more than it would send.
func (t *Text) RenderLimit(d *Data, escape func(string) string, limit int) (string, error) {
	return t.render(d, escape, limit)
}

func (t *Text) render(d *Data, escape func(string) string, limit int) (string, error) {
	if d == nil {
		d = &Data{}
	}
	var b strings.Builder
	b.Grow(int(min(t.size.Load(), int64(limit))))
	// scratch holds an object's or array's JSON, reused from tag to tag
	// so that a template repeating one costs no allocation per tag.
	var scratch []byte
	for i := range t.parts {
		p := &t.parts[i]
		s := p.lit
		if p.tag != nil {
			v, err := p.tag.value(d, t.strict, limit)
			if err != nil {
				return "", err
			}
			var ok bool
			if v.k == kComposite {
				if scratch, ok = v.appendText(scratch[:0], limit-b.Len()); !ok {
					return "", ErrTooLarge
				}
				if escape == nil {
					b.Write(scratch)
					continue
				}
				s = string(scratch)
			} else if s, ok = v.text(limit - b.Len()); !ok {
				return "", ErrTooLarge
			}
			if escape != nil {
				s = escape(s)
			}
		}
		if b.Len()+len(s) > limit {
			return "", ErrTooLarge
		}
		b.WriteString(s)
	}
	if n := int64(b.Len()); n > t.size.Load() && n <= maxSizeHint {
		t.size.Store(n)
	}
	return b.String(), nil
}

// maxSizeHint caps the remembered output size, so that one huge rendering
// does not make every later buffer huge.
const maxSizeHint = 64 << 10

// Paths lists the paths the tags name, once each in the order written, so
// that callers can name the variables in messages and skip rendering
// templates that have none.
func (t *Text) Paths() []string {
	return append([]string(nil), t.paths...)
}
