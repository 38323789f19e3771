package api

import (
	"reflect"
	"slices"
	"strings"
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
			if oneEdit(strings.ToLower(name), strings.ToLower(tag)) {
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

// oneEdit reports whether a and b differ by exactly one insertion,
// deletion, substitution or swap of two neighbouring characters (the
// usual typos). Equal strings are not one edit apart.
func oneEdit(a, b string) bool {
	x, y := []rune(a), []rune(b)
	if len(x) > len(y) {
		x, y = y, x
	}
	switch len(y) - len(x) {
	case 0:
		var diff []int
		for i := range x {
			if x[i] != y[i] {
				diff = append(diff, i)
			}
		}
		switch len(diff) {
		case 1:
			return true
		case 2:
			i, j := diff[0], diff[1]
			return j == i+1 && x[i] == y[j] && x[j] == y[i]
		}
		return false
	case 1:
		i := 0
		for i < len(x) && x[i] == y[i] {
			i++
		}
		return slices.Equal(x[i:], y[i+1:])
	}
	return false
}
