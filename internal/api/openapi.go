package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the API's contract, written by hand beside the handlers
// it describes: YAML for people to read and review, served as JSON. Tests
// keep the two in step (every route is an operation and every operation a
// route; every request and answer of the API tests is validated against
// it).
//
//go:embed openapi.yaml
var openAPIYAML []byte

// spec is the document parsed once: the tree the reference page is drawn
// from and its JSON, in the YAML's order (a map would sort the keys, and
// the document reads top-down: info, paths in their groups, components).
var spec = sync.OnceValues(func() (*specNode, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	n, err := fromYAML(&doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	var buf bytes.Buffer
	n.writeJSON(&buf)
	n.json = buf.Bytes()
	return n, nil
})

// OpenAPI returns the API's OpenAPI 3.1 document as JSON.
func OpenAPI() ([]byte, error) {
	n, err := spec()
	if err != nil {
		return nil, err
	}
	return n.json, nil
}

// serveOpenAPI answers GET /openapi.json, open to anyone: a client
// generator or a person needs the contract before holding a token.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	doc, err := OpenAPI()
	if err != nil {
		s.log.Error("openapi document", "error", err.Error())
		writeError(w, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(doc)
}

// specNode is one value of the document: an object with its keys in
// order, an array, or a scalar (JSON text).
type specNode struct {
	keys   []string
	fields map[string]*specNode
	items  []*specNode
	kind   yaml.Kind
	// scalar is the value as JSON (a quoted string, a number, true,
	// false, null); text is a string's own text.
	scalar, text string
	json         []byte
}

// fromYAML turns YAML into the JSON data model: only what JSON can say
// (string keys, strings, numbers, booleans, null), aliases resolved.
func fromYAML(y *yaml.Node) (*specNode, error) {
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) != 1 {
			return nil, fmt.Errorf("line %d: one document expected", y.Line)
		}
		return fromYAML(y.Content[0])
	case yaml.AliasNode:
		return fromYAML(y.Alias)
	case yaml.MappingNode:
		n := &specNode{kind: yaml.MappingNode, fields: map[string]*specNode{}}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k := y.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: keys must be scalars", k.Line)
			}
			if _, dup := n.fields[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q given twice", k.Line, k.Value)
			}
			v, err := fromYAML(y.Content[i+1])
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k.Value)
			n.fields[k.Value] = v
		}
		return n, nil
	case yaml.SequenceNode:
		n := &specNode{kind: yaml.SequenceNode, items: []*specNode{}}
		for _, c := range y.Content {
			v, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
		return n, nil
	case yaml.ScalarNode:
		n := &specNode{kind: yaml.ScalarNode}
		switch y.ShortTag() {
		case "!!str":
			b, _ := marshalNoEscape(y.Value)
			n.scalar, n.text = string(b), y.Value
		case "!!int", "!!float":
			f, err := strconv.ParseFloat(y.Value, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: number %q: %w", y.Line, y.Value, err)
			}
			n.scalar = strconv.FormatFloat(f, 'f', -1, 64)
		case "!!bool":
			var b bool
			if err := y.Decode(&b); err != nil {
				return nil, fmt.Errorf("line %d: %w", y.Line, err)
			}
			n.scalar = strconv.FormatBool(b)
		case "!!null":
			n.scalar = "null"
		default:
			return nil, fmt.Errorf("line %d: %s values have no JSON form", y.Line, y.ShortTag())
		}
		return n, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", y.Line)
}

func marshalNoEscape(s string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// writeJSON writes the node as compact JSON.
func (n *specNode) writeJSON(buf *bytes.Buffer) {
	switch n.kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := marshalNoEscape(k)
			buf.Write(b)
			buf.WriteByte(':')
			n.fields[k].writeJSON(buf)
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, v := range n.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			v.writeJSON(buf)
		}
		buf.WriteByte(']')
	default:
		buf.WriteString(n.scalar)
	}
}

// get walks object keys from n; nil when any is missing.
func (n *specNode) get(path ...string) *specNode {
	for _, k := range path {
		if n == nil || n.fields == nil {
			return nil
		}
		n = n.fields[k]
	}
	return n
}

// str is the text of a string node at path, "" otherwise.
func (n *specNode) str(path ...string) string {
	if v := n.get(path...); v != nil {
		return v.text
	}
	return ""
}
