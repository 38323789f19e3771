// Package spelling finds what a mistyped name was meant to be, so that an
// error can say "did you mean event_types?" instead of sending the user
// to the documentation.
package spelling

import "slices"

// Closest returns the first of candidates that name is one edit away from
// (see OneEdit) once ASCII case is ignored, or that differs from name in
// case alone; "" when there is none. Candidates are tried in order, so
// the answer is the same on every call.
func Closest(name string, candidates []string) string {
	ln := lower(name)
	for _, c := range candidates {
		if lc := lower(c); OneEdit(ln, lc) || ln == lc && name != c {
			return c
		}
	}
	return ""
}

// OneEdit reports whether a and b differ by exactly one insertion,
// deletion, substitution, or swap of two neighbouring characters: the
// usual typos. Equal strings are not one edit apart.
func OneEdit(a, b string) bool {
	x, y := []rune(a), []rune(b)
	if len(x) > len(y) {
		x, y = y, x
	}
	switch len(y) - len(x) {
	case 0:
		var diff []int
		for i := range x {
			if x[i] != y[i] {
				if diff = append(diff, i); len(diff) > 2 {
					return false
				}
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

// lower folds ASCII letters only: names here are ASCII identifiers, and
// a full Unicode fold could change lengths.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
