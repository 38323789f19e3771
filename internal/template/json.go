package template

import (
	"math"
	"sync/atomic"
)

// JSON is a parsed JSON body template. It is parsed once per endpoint and
// rendered for every delivery; it is safe for concurrent use.
type JSON struct {
	ops    []op
	fields []fieldTmpl // top-level members, when the document is an object
	isObj  bool
	strict bool
	paths  []string
	size   atomic.Int64
}

// op is one step of rendering: literal bytes, or a tag written either as
// text inside a string already open, or as a whole JSON value.
type op struct {
	lit   []byte
	tag   *tag
	whole bool
	// depth is the number of objects and arrays around a whole value.
	depth int
}

// fieldTmpl is a top-level member, kept for RenderFields.
type fieldTmpl struct {
	key []part
	// str is the value's text template when the value is a string.
	str   []part
	isStr bool
	// ops render any other value as JSON.
	ops []op
}

// Field is one named value of a form body or a query string.
type Field struct {
	Key, Value string
}

// ParseJSON parses a JSON body template, so that mistakes are reported
// when the customer saves the endpoint rather than at delivery time. src
// must be valid JSON; error positions refer to bytes of src.
func ParseJSON(src []byte, o Options) (*JSON, error) {
	if _, _, ok := o.Syntax.delims(); !ok {
		return nil, newParseError(src, 0, "unknown template syntax "+o.Syntax.String())
	}
	root, paths, err := parseDocument(src, o.Syntax, names{titles: o.Titles, batch: o.Batch})
	if err != nil {
		return nil, err
	}
	t := &JSON{strict: o.Strict, paths: paths, isObj: root.kind == nObject}
	var c compiler
	c.node(root)
	t.ops = c.finish()
	if t.isObj {
		t.fields = make([]fieldTmpl, len(root.keys))
		for i, k := range root.keys {
			v := root.vals[i]
			f := fieldTmpl{key: k}
			if v.kind == nString {
				f.str, f.isStr = v.parts, true
			} else {
				var vc compiler
				vc.node(v)
				f.ops = vc.finish()
			}
			t.fields[i] = f
		}
	}
	t.size.Store(int64(len(src)))
	return t, nil
}

// compiler flattens a document into ops, merging adjacent literal bytes.
type compiler struct {
	ops   []op
	lit   []byte
	depth int
}

func (c *compiler) flush() {
	if len(c.lit) > 0 {
		c.ops = append(c.ops, op{lit: c.lit})
		c.lit = nil
	}
}

func (c *compiler) finish() []op {
	c.flush()
	return c.ops
}

func (c *compiler) tag(t *tag, whole bool) {
	c.flush()
	c.ops = append(c.ops, op{tag: t, whole: whole, depth: c.depth})
}

func (c *compiler) node(n *node) {
	switch n.kind {
	case nLiteral:
		c.lit = append(c.lit, n.raw...)
	case nString:
		if t := n.whole(); t != nil {
			c.tag(t, true)
			return
		}
		c.str(n.parts)
	case nObject:
		c.depth++
		defer func() { c.depth-- }()
		c.lit = append(c.lit, '{')
		for i, k := range n.keys {
			if i > 0 {
				c.lit = append(c.lit, ',')
			}
			c.str(k)
			c.lit = append(c.lit, ':')
			c.node(n.vals[i])
		}
		c.lit = append(c.lit, '}')
	case nArray:
		c.depth++
		defer func() { c.depth-- }()
		c.lit = append(c.lit, '[')
		for i, v := range n.vals {
			if i > 0 {
				c.lit = append(c.lit, ',')
			}
			c.node(v)
		}
		c.lit = append(c.lit, ']')
	}
}

// str writes a string whose tags insert text.
func (c *compiler) str(parts []part) {
	c.lit = append(c.lit, '"')
	for _, p := range parts {
		if p.tag != nil {
			c.tag(p.tag, false)
		} else {
			c.lit = appendStringContent(c.lit, p.lit, math.MaxInt)
		}
	}
	c.lit = append(c.lit, '"')
}

// Render fills in the tags and returns compact JSON that is valid whatever
// the values hold, ready to send as the request body.
func (t *JSON) Render(d *Data) ([]byte, error) {
	return t.RenderLimit(d, math.MaxInt)
}

// RenderLimit is Render for a body of at most limit bytes: it stops with
// ErrTooLarge as soon as the output passes the limit, having built no more
// than that (and no filter result larger than it).
func (t *JSON) RenderLimit(d *Data, limit int) ([]byte, error) {
	if d == nil {
		d = &Data{}
	}
	b := make([]byte, 0, min(t.size.Load(), int64(limit)))
	b, err := renderOps(b, t.ops, d, t.strict, limit)
	if err != nil {
		return nil, err
	}
	if n := int64(len(b)); n > t.size.Load() && n <= maxSizeHint {
		t.size.Store(n)
	}
	return b, nil
}

// renderOps appends the rendering of ops to b, which may grow to at most
// limit bytes.
func renderOps(b []byte, ops []op, d *Data, strict bool, limit int) ([]byte, error) {
	for i := range ops {
		o := &ops[i]
		if o.tag == nil {
			if len(b)+len(o.lit) > limit {
				return nil, ErrTooLarge
			}
			b = append(b, o.lit...)
			continue
		}
		v, err := o.tag.value(d, strict, limit)
		if err != nil {
			return nil, err
		}
		if o.whole {
			if b = appendJSONValue(b, v, maxDepth-o.depth, limit); b == nil {
				return nil, ErrTooLarge
			}
			continue
		}
		s, ok := v.text(limit - len(b))
		if !ok {
			return nil, ErrTooLarge
		}
		if b = appendStringContent(b, s, limit); b == nil {
			return nil, ErrTooLarge
		}
	}
	return b, nil
}

// RenderFields renders the top-level members as named text values, for a
// form body or a query string, where there is no JSON to carry types.
// String values render as text templates (a tag alone inserts its value as
// text); any other value renders as its compact JSON. A template that is
// not an object returns ErrNotObject.
func (t *JSON) RenderFields(d *Data) ([]Field, error) {
	return t.RenderFieldsLimit(d, math.MaxInt)
}

// RenderFieldsLimit is RenderFields for fields whose names and values add
// up to at most limit bytes (before any encoding): past that it stops
// with ErrTooLarge.
func (t *JSON) RenderFieldsLimit(d *Data, limit int) ([]Field, error) {
	if !t.isObj {
		return nil, ErrNotObject
	}
	if d == nil {
		d = &Data{}
	}
	// One buffer holds every name and value, so the limit applies to
	// them together.
	out := make([]Field, len(t.fields))
	buf := make([]byte, 0, min(t.size.Load(), int64(limit)))
	for i := range t.fields {
		f := &t.fields[i]
		start := len(buf)
		var err error
		if buf, err = renderText(buf, f.key, d, t.strict, limit); err != nil {
			return nil, err
		}
		out[i].Key = string(buf[start:])
		start = len(buf)
		if f.isStr {
			buf, err = renderText(buf, f.str, d, t.strict, limit)
		} else {
			buf, err = renderOps(buf, f.ops, d, t.strict, limit)
		}
		if err != nil {
			return nil, err
		}
		out[i].Value = string(buf[start:])
	}
	return out, nil
}

// renderText appends the rendering of text template parts to b, which may
// grow to at most limit bytes.
func renderText(b []byte, parts []part, d *Data, strict bool, limit int) ([]byte, error) {
	for i := range parts {
		p := &parts[i]
		if p.tag == nil {
			if len(b)+len(p.lit) > limit {
				return nil, ErrTooLarge
			}
			b = append(b, p.lit...)
			continue
		}
		v, err := p.tag.value(d, strict, limit)
		if err != nil {
			return nil, err
		}
		var ok bool
		if b, ok = v.appendText(b, limit); !ok {
			return nil, ErrTooLarge
		}
	}
	return b, nil
}

// IsObject reports whether the template's top level is a JSON object, the
// only shape RenderFields accepts, so that callers can refuse a form or
// query template when it is saved.
func (t *JSON) IsObject() bool { return t.isObj }

// Paths lists the paths the tags name (in keys and values), once each in
// the order written, so that callers can name the variables in messages.
func (t *JSON) Paths() []string {
	return append([]string(nil), t.paths...)
}
