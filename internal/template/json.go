package template

import (
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
	root, paths, err := parseDocument(src, o.Syntax, o.Titles)
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
			c.lit = appendStringContent(c.lit, p.lit)
		}
	}
	c.lit = append(c.lit, '"')
}

// Render fills in the tags and returns compact JSON that is valid whatever
// the values hold, ready to send as the request body.
func (t *JSON) Render(d *Data) ([]byte, error) {
	if d == nil {
		d = &Data{}
	}
	b := make([]byte, 0, t.size.Load())
	b, err := renderOps(b, t.ops, d, t.strict)
	if err != nil {
		return nil, err
	}
	if n := int64(len(b)); n > t.size.Load() && n <= maxSizeHint {
		t.size.Store(n)
	}
	return b, nil
}

func renderOps(b []byte, ops []op, d *Data, strict bool) ([]byte, error) {
	for i := range ops {
		o := &ops[i]
		if o.tag == nil {
			b = append(b, o.lit...)
			continue
		}
		v := o.tag.eval(d)
		if v.k == kMissing && strict {
			return nil, o.tag.missingError(v)
		}
		if o.whole {
			b = appendJSONValue(b, v, maxDepth-o.depth)
			continue
		}
		switch v.k {
		case kString, kNumber:
			b = appendStringContent(b, v.s)
		case kBool, kComposite:
			b = appendStringContent(b, v.text())
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
	if !t.isObj {
		return nil, ErrNotObject
	}
	if d == nil {
		d = &Data{}
	}
	out := make([]Field, len(t.fields))
	var buf []byte
	for i := range t.fields {
		f := &t.fields[i]
		var err error
		if buf, err = renderText(buf[:0], f.key, d, t.strict); err != nil {
			return nil, err
		}
		out[i].Key = string(buf)
		if f.isStr {
			buf, err = renderText(buf[:0], f.str, d, t.strict)
		} else {
			buf, err = renderOps(buf[:0], f.ops, d, t.strict)
		}
		if err != nil {
			return nil, err
		}
		out[i].Value = string(buf)
	}
	return out, nil
}

// renderText renders text template parts into b.
func renderText(b []byte, parts []part, d *Data, strict bool) ([]byte, error) {
	for i := range parts {
		p := &parts[i]
		if p.tag == nil {
			b = append(b, p.lit...)
			continue
		}
		v := p.tag.eval(d)
		if v.k == kMissing && strict {
			return nil, p.tag.missingError(v)
		}
		b = v.appendText(b)
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
