package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// TitlesFromSchema collects the display titles of a JSON Schema's
// properties, so that customers can write {{会社名}} for the field a form
// builder shows as 会社名. The result maps each title to the property's
// dotted path and is meant for Options.Titles.
//
// Only "properties" are followed, recursively (a nested object's
// properties get paths like "lead.company"); array "items", "$ref",
// "allOf" and the like are not. A property whose "title" is not a
// non-empty string gets no entry, and a property whose name is empty or
// holds a dot is skipped with everything under it, since a dotted path
// could not name it. Titles are trimmed of surrounding white space. When
// two properties share a title, the first in the document wins: the walk
// is depth first, a property before the properties nested in it, siblings
// in the order written. Only invalid JSON is an error; a schema of any
// other shape simply yields fewer titles.
func TitlesFromSchema(schema []byte) (map[string]string, error) {
	if !json.Valid(schema) {
		var x any
		err := json.Unmarshal(schema, &x)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, fmt.Errorf("template: schema: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	root, err := readSchemaNode(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("template: schema: %w", err)
	}
	out := map[string]string{}
	walkProperties(root, "", out)
	return out, nil
}

// snode is a schema value: only objects and strings matter, and object
// members stay in document order.
type snode struct {
	members []smember
	isObj   bool
	str     string
	isStr   bool
}

type smember struct {
	key string
	val *snode
}

// get returns the last member named key, as encoding/json would.
func (n *snode) get(key string) *snode {
	for i := len(n.members) - 1; i >= 0; i-- {
		if n.members[i].key == key {
			return n.members[i].val
		}
	}
	return nil
}

func readSchemaNode(dec *json.Decoder, depth int) (*snode, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &snode{isObj: t == '{'}
		for dec.More() {
			var key string
			if n.isObj {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ = kt.(string)
			}
			v, err := readSchemaNode(dec, depth+1)
			if err != nil {
				return nil, err
			}
			if n.isObj {
				n.members = append(n.members, smember{key, v})
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &snode{str: t, isStr: true}, nil
	}
	return &snode{}, nil
}

func walkProperties(n *snode, prefix string, out map[string]string) {
	props := n.get("properties")
	if props == nil || !props.isObj {
		return
	}
	for _, m := range props.members {
		if !m.val.isObj || m.key == "" || strings.Contains(m.key, ".") {
			continue
		}
		path := prefix + m.key
		if t := m.val.get("title"); t != nil && t.isStr {
			title := strings.TrimFunc(t.str, isSpace)
			if _, dup := out[title]; title != "" && !dup {
				out[title] = path
			}
		}
		walkProperties(m.val, path+".", out)
	}
}
