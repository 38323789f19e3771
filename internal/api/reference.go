package api

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// The API reference at /docs/api is drawn from the embedded document by
// this file, once, as one static page: no script, no renderer from a CDN,
// nothing to drift from /openapi.json. It lists tags, their operations
// (parameters, request body, answers) and the schemas, each with an
// anchor (#createEvent, #schema-Delivery) to link to.

// methodOrder is the order operations of one path are listed in.
var methodOrder = []string{"get", "post", "put", "patch", "delete"}

var reference = sync.OnceValues(func() ([]byte, error) {
	doc, err := spec()
	if err != nil {
		return nil, err
	}
	return []byte(renderReference(doc)), nil
})

// serveReference answers GET /docs/api.
func (s *Server) serveReference(w http.ResponseWriter, r *http.Request) {
	page, err := reference()
	if err != nil {
		s.log.Error("api reference", "error", err.Error())
		writeError(w, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(page)
}

// refOp is one operation, for the page.
type refOp struct {
	method, path string
	op           *specNode
	params       []*specNode
}

func renderReference(doc *specNode) string {
	var b strings.Builder
	title := doc.str("info", "title")
	esc := html.EscapeString
	fmt.Fprintf(&b, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;display:flex}
nav{width:17rem;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f4f5f8;padding:1rem;box-sizing:border-box;font-size:14px}
nav h2{font-size:13px;text-transform:uppercase;color:#5a6275;margin:1rem 0 .3rem}
nav a{display:block;color:#1d2330;text-decoration:none;padding:1px 0}
nav a:hover{text-decoration:underline}
main{padding:1rem 2rem 4rem;max-width:60rem;min-width:0}
h1{margin-top:0}
section.op{border-top:1px solid #dde0e7;padding-top:.5rem;margin-top:1.5rem}
.m{display:inline-block;font:600 12px monospace;text-transform:uppercase;padding:1px 6px;border-radius:3px;background:#e2e6ef;margin-right:.4rem}
.get{background:#d8efe3}.post{background:#dbe6fb}.patch,.put{background:#fbeccf}.delete{background:#f8d9d9}
code,.path{font-family:ui-monospace,monospace;font-size:13px}
.path{font-weight:600}
table{border-collapse:collapse;width:100%%;margin:.4rem 0 .8rem;font-size:14px}
th,td{text-align:left;vertical-align:top;border-bottom:1px solid #e7e9ef;padding:3px 8px 3px 0}
th{font-weight:600;color:#5a6275}
td table{margin:.2rem 0 0;font-size:13px}
.req{color:#b3261e;font-size:12px}
.id{color:#5a6275;font-size:12px}
</style></head><body>
<nav><strong>%s</strong>
<a href="/openapi.json">openapi.json</a>
`, esc(title), esc(title))

	ops := collectOps(doc)
	tags := doc.get("tags")
	var tagNames []string
	if tags != nil {
		for _, t := range tags.items {
			tagNames = append(tagNames, t.str("name"))
		}
	}
	byTag := map[string][]refOp{}
	for _, o := range ops {
		tag := ""
		if t := o.op.get("tags"); t != nil && len(t.items) > 0 {
			tag = t.items[0].text
		}
		if !slices.Contains(tagNames, tag) {
			tagNames = append(tagNames, tag)
		}
		byTag[tag] = append(byTag[tag], o)
	}
	for _, tag := range tagNames {
		fmt.Fprintf(&b, "<h2>%s</h2>\n", esc(tag))
		for _, o := range byTag[tag] {
			id := o.op.str("operationId")
			fmt.Fprintf(&b, `<a href="#%s">%s</a>`+"\n", esc(id), esc(o.op.str("summary")))
		}
	}
	b.WriteString("<h2>Schemas</h2>\n")
	schemas := doc.get("components", "schemas")
	for _, name := range schemas.keys {
		fmt.Fprintf(&b, `<a href="#schema-%s">%s</a>`+"\n", esc(name), esc(name))
	}
	fmt.Fprintf(&b, "</nav>\n<main>\n<h1>%s</h1>\n<p>Version %s. The same document as JSON: <a href=\"/openapi.json\"><code>/openapi.json</code></a>.</p>\n%s\n",
		esc(title), esc(doc.str("info", "version")), prose(doc.str("info", "description")))
	if sec := doc.get("components", "securitySchemes"); sec != nil {
		b.WriteString("<h2 id=\"authentication\">Authentication</h2>\n")
		for _, name := range sec.keys {
			fmt.Fprintf(&b, "<h3>%s</h3>\n%s\n", esc(name), prose(sec.fields[name].str("description")))
		}
	}
	for _, tag := range tagNames {
		fmt.Fprintf(&b, "<h2 id=\"tag-%s\">%s</h2>\n", esc(anchor(tag)), esc(tag))
		for _, t := range tags.items {
			if t.str("name") == tag {
				b.WriteString(prose(t.str("description")))
			}
		}
		for _, o := range byTag[tag] {
			renderOp(&b, doc, o)
		}
	}
	b.WriteString("<h2 id=\"schemas\">Schemas</h2>\n")
	inputs := inputSchemas(doc)
	for _, name := range schemas.keys {
		s := schemas.fields[name]
		fmt.Fprintf(&b, "<section class=\"op\" id=\"schema-%s\"><h3>%s</h3>\n%s\n", esc(name), esc(name), prose(s.str("description")))
		renderSchema(&b, doc, s, inputs[name])
		b.WriteString("</section>\n")
	}
	b.WriteString("</main></body></html>\n")
	return b.String()
}

// collectOps lists the operations in the document's order.
func collectOps(doc *specNode) []refOp {
	var ops []refOp
	paths := doc.get("paths")
	for _, p := range paths.keys {
		item := paths.fields[p]
		var shared []*specNode
		if ps := item.get("parameters"); ps != nil {
			shared = ps.items
		}
		for _, m := range methodOrder {
			op := item.get(m)
			if op == nil {
				continue
			}
			params := slices.Clone(shared)
			if ps := op.get("parameters"); ps != nil {
				params = append(params, ps.items...)
			}
			ops = append(ops, refOp{method: m, path: p, op: op, params: params})
		}
	}
	return ops
}

func renderOp(b *strings.Builder, doc *specNode, o refOp) {
	esc := html.EscapeString
	id := o.op.str("operationId")
	fmt.Fprintf(b, "<section class=\"op\" id=\"%s\"><h3>%s</h3>\n<p><span class=\"m %s\">%s</span><span class=\"path\">%s</span> <span class=\"id\">%s</span></p>\n%s\n",
		esc(id), esc(o.op.str("summary")), o.method, o.method, esc(o.path), esc(id), prose(o.op.str("description")))
	sec := o.op.get("security")
	if sec == nil {
		sec = doc.get("security")
	}
	switch {
	case sec == nil || len(sec.items) == 0:
		b.WriteString("<p>No token needed.</p>\n")
	default:
		var roles []string
		for _, req := range sec.items {
			for _, k := range req.keys {
				for _, r := range req.fields[k].items {
					roles = append(roles, "<code>"+esc(r.text)+"</code>")
				}
			}
		}
		fmt.Fprintf(b, "<p>Bearer token of scope %s.</p>\n", strings.Join(roles, ", "))
	}
	if len(o.params) > 0 {
		b.WriteString("<h4>Parameters</h4>\n<table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>\n")
		for _, p := range o.params {
			p = resolve(doc, p)
			req := ""
			if p.get("required") != nil && p.get("required").scalar == "true" {
				req = ` <span class="req">required</span>`
			}
			fmt.Fprintf(b, "<tr><td><code>%s</code>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
				esc(p.str("name")), req, esc(p.str("in")), typeOf(doc, p.get("schema")), inline(p.str("description")))
		}
		b.WriteString("</table>\n")
	}
	if rb := o.op.get("requestBody"); rb != nil {
		rb = resolve(doc, rb)
		opt := " (optional)"
		if r := rb.get("required"); r != nil && r.scalar == "true" {
			opt = ""
		}
		fmt.Fprintf(b, "<h4>Request body%s</h4>\n", opt)
		if s := rb.get("content", "application/json", "schema"); s != nil {
			fmt.Fprintf(b, "<p><code>application/json</code>: %s</p>\n", typeOf(doc, s))
		}
	}
	if rs := o.op.get("responses"); rs != nil {
		b.WriteString("<h4>Responses</h4>\n<table><tr><th>status</th><th>body</th><th>description</th></tr>\n")
		for _, code := range rs.keys {
			r := resolve(doc, rs.fields[code])
			body := "none"
			if c := r.get("content"); c != nil && len(c.keys) > 0 {
				body = "<code>" + esc(c.keys[0]) + "</code> " + typeOf(doc, c.fields[c.keys[0]].get("schema"))
			}
			fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n", esc(code), body, inline(r.str("description")))
		}
		b.WriteString("</table>\n")
	}
	b.WriteString("</section>\n")
}

// renderSchema writes an object's properties as a table, objects within
// it as nested tables; anything else as its type.
func renderSchema(b *strings.Builder, doc *specNode, s *specNode, input bool) {
	esc := html.EscapeString
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		if parts := s.get(k); parts != nil {
			fmt.Fprintf(b, "<p>%s</p>\n", typeOf(doc, s))
			for _, p := range parts.items {
				if p.get("$ref") == nil && p.get("properties") != nil {
					renderSchema(b, doc, p, input)
				}
			}
			return
		}
	}
	props := s.get("properties")
	if props == nil {
		fmt.Fprintf(b, "<p>%s</p>\n", typeOf(doc, s))
		if en := s.get("enum"); en != nil {
			b.WriteString("<p>Values: ")
			for i, v := range en.items {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(b, "<code>%s</code>", esc(shown(v)))
			}
			b.WriteString("</p>\n")
		}
		return
	}
	required := map[string]bool{}
	if r := s.get("required"); r != nil {
		for _, v := range r.items {
			required[v.text] = true
		}
	}
	b.WriteString("<table><tr><th>field</th><th>type</th><th>description</th></tr>\n")
	for _, name := range props.keys {
		p := props.fields[name]
		req := ""
		if required[name] {
			req = ` <span class="req">always</span>`
			if input {
				req = ` <span class="req">required</span>`
			}
		}
		fmt.Fprintf(b, "<tr><td><code>%s</code>%s</td><td>%s</td><td>%s", esc(name), req, typeOf(doc, p), inline(p.str("description")))
		if inner := objectIn(p); inner != nil {
			renderSchema(b, doc, inner, input)
		}
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</table>\n")
	if s.get("additionalProperties") != nil && s.get("additionalProperties").scalar == "false" {
		b.WriteString("<p>No other fields.</p>\n")
	}
}

// objectIn is the inline object a property holds, itself or as its
// items or one of its alternatives, to be shown nested; nil for none.
func objectIn(p *specNode) *specNode {
	cands := []*specNode{p, p.get("items")}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts := p.get(k); alts != nil {
			cands = append(cands, alts.items...)
		}
	}
	for _, c := range cands {
		if c != nil && c.get("properties") != nil {
			return c
		}
	}
	return nil
}

// inputSchemas names the schemas request bodies use, directly or
// within: their required fields are the caller's to give ("required"),
// where an answer's are always there ("always").
func inputSchemas(doc *specNode) map[string]bool {
	in := map[string]bool{}
	var walk func(n *specNode)
	walk = func(n *specNode) {
		if n == nil {
			return
		}
		if ref := n.str("$ref"); strings.HasPrefix(ref, "#/components/schemas/") {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			if !in[name] {
				in[name] = true
				walk(doc.get("components", "schemas", name))
			}
			return
		}
		for _, v := range n.fields {
			walk(v)
		}
		for _, v := range n.items {
			walk(v)
		}
	}
	for _, o := range collectOps(doc) {
		walk(o.op.get("requestBody"))
	}
	return in
}

// typeOf describes a schema in a few words, with links to named schemas.
func typeOf(doc *specNode, s *specNode) string {
	if s == nil {
		return "any JSON"
	}
	esc := html.EscapeString
	if ref := s.str("$ref"); ref != "" {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		return fmt.Sprintf(`<a href="#schema-%s">%s</a>`, esc(name), esc(name))
	}
	for _, c := range []struct{ key, sep string }{{"oneOf", " or "}, {"anyOf", " or "}, {"allOf", " and "}} {
		if parts := s.get(c.key); parts != nil {
			var out []string
			for _, p := range parts.items {
				out = append(out, typeOf(doc, p))
			}
			return strings.Join(out, c.sep)
		}
	}
	if c := s.get("const"); c != nil {
		return "<code>" + esc(shown(c)) + "</code>"
	}
	if n := s.get("not"); n != nil {
		return "any JSON but " + typeOf(doc, n)
	}
	var types []string
	if t := s.get("type"); t != nil {
		if t.kind == yaml.ScalarNode {
			types = []string{t.text}
		}
		for _, v := range t.items {
			types = append(types, v.text)
		}
	}
	switch {
	case len(types) == 0 || len(types) == 6:
		return "any JSON"
	case len(types) == 5 && !slices.Contains(types, "null"):
		return "any JSON but null"
	}
	for i, t := range types {
		switch t {
		case "array":
			types[i] = "array of " + typeOf(doc, s.get("items"))
		case "object":
			if ap := s.get("additionalProperties"); ap != nil && ap.kind == yaml.MappingNode {
				types[i] = "object of " + typeOf(doc, ap)
			}
		default:
			if f := s.str("format"); f != "" {
				types[i] = t + " (" + esc(f) + ")"
			}
		}
	}
	out := strings.Join(types, " or ")
	if en := s.get("enum"); en != nil {
		var vals []string
		for _, v := range en.items {
			vals = append(vals, "<code>"+esc(shown(v))+"</code>")
		}
		out += ": " + strings.Join(vals, ", ")
	}
	return out
}

// resolve follows a $ref to a component (parameters, responses, request
// bodies).
func resolve(doc *specNode, n *specNode) *specNode {
	ref := n.str("$ref")
	if ref == "" {
		return n
	}
	parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
	if target := doc.get(parts...); target != nil {
		return target
	}
	return n
}

// shown is a scalar as a reader expects it: a string's text, or its
// quotes when it is empty; other values as JSON.
func shown(v *specNode) string {
	if v.text != "" {
		return v.text
	}
	return v.scalar
}

func anchor(s string) string { return strings.ReplaceAll(strings.ToLower(s), " ", "-") }

var (
	codeSpan = regexp.MustCompile("`([^`]+)`")
	bold     = regexp.MustCompile(`\*\*([^*]+)\*\*`)
)

// inline escapes text and shows `code` as code and **bold** as bold, the
// only inline Markdown the descriptions use; lines are joined.
func inline(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = codeSpan.ReplaceAllString(html.EscapeString(s), "<code>$1</code>")
	return bold.ReplaceAllString(s, "<strong>$1</strong>")
}

// prose renders a description's Markdown as far as the document uses
// it: paragraphs, lists ("- " items, continued on indented lines) and
// tables ("| a | b |" rows).
func prose(s string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(s), "\n\n") {
		lines := strings.Split(strings.TrimSpace(para), "\n")
		switch {
		case lines[0] == "":
		case strings.HasPrefix(lines[0], "|"):
			b.WriteString("<table>\n")
			for i, l := range lines {
				cells := strings.Split(strings.Trim(strings.TrimSpace(l), "|"), "|")
				if i == 1 && strings.Trim(l, "|- ") == "" {
					continue
				}
				tag := "td"
				if i == 0 {
					tag = "th"
				}
				b.WriteString("<tr>")
				for _, c := range cells {
					fmt.Fprintf(&b, "<%s>%s</%s>", tag, inline(c), tag)
				}
				b.WriteString("</tr>\n")
			}
			b.WriteString("</table>\n")
		case strings.HasPrefix(lines[0], "- "):
			var items []string
			for _, l := range lines {
				if strings.HasPrefix(l, "- ") {
					items = append(items, strings.TrimPrefix(l, "- "))
				} else if len(items) > 0 {
					items[len(items)-1] += " " + l
				}
			}
			b.WriteString("<ul>\n")
			for _, it := range items {
				fmt.Fprintf(&b, "<li>%s</li>\n", inline(it))
			}
			b.WriteString("</ul>\n")
		default:
			fmt.Fprintf(&b, "<p>%s</p>\n", inline(para))
		}
	}
	return b.String()
}
