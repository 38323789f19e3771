package api

import (
	"reflect"
	"strings"

	"github.com/heraldhq/herald/internal/spelling"
)

// suggestField returns the known JSON field of dst's type (or of a struct
// nested in it) that name is one edit away from, or "" when there is none:
// a typo such as "evnt_type" then gets "did you mean event_type?", which
// saves a trip to the documentation. Fields are searched in declaration
// order, so the answer is the same on every call.
func suggestField(dst any, name string) string {
	var found string
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] || found != "" {
			return
		}
		seen[t] = true
		for f := range t.Fields() {
			if !f.IsExported() {
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag == "-" {
				continue
			}
			if f.Anonymous && tag == "" {
				walk(f.Type)
				continue
			}
			if tag == "" {
				tag = f.Name
			}
			if spelling.OneEdit(strings.ToLower(name), strings.ToLower(tag)) {
				found = tag
				return
			}
		}
		for f := range t.Fields() {
			if f.IsExported() {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeOf(dst))
	return found
}
