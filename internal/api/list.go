package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Page sizes of list routes.
const (
	defaultLimit = 50
	maxLimit     = 250
)

// page is the shape of every list answer.
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// pageParams are the query parameters of every list.
var pageParams = []string{"cursor", "limit"}

// takes wraps a route's handler with the query parameters it reads: any
// other answers 400 naming it, so that a misspelt filter is never
// silently ignored (and the whole list returned as if it matched).
func takes(h handler, names ...string) handler {
	return func(w http.ResponseWriter, r *http.Request) *Error {
		for k := range r.URL.Query() {
			if !slices.Contains(names, k) {
				return errQuery(k, "unknown query parameter %q; this route takes %s", k, strings.Join(names, ", "))
			}
		}
		return h(w, r)
	}
}

// listParams reads ?cursor= and ?limit=.
func listParams(r *http.Request) (store.ListParams, *Error) {
	q := r.URL.Query()
	p := store.ListParams{Cursor: q.Get("cursor"), Limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return p, errQuery("limit", "limit must be a whole number from 1 to %d", maxLimit)
		}
		p.Limit = n
	}
	if len(p.Cursor) > 200 {
		return p, errQuery("cursor", "cursor is not one this API returned")
	}
	return p, nil
}

// fetch asks for one row more than the page holds, to know whether there
// is a next page without a second query.
func fetchPage[T any](p store.ListParams, list func(store.ListParams) ([]T, error), key func(T) string) (*page[T], error) {
	want := p.Limit
	p.Limit = want + 1
	rows, err := list(p)
	if err != nil {
		return nil, err
	}
	out := &page[T]{Data: rows}
	if len(rows) > want {
		out.Data = rows[:want]
		c := key(rows[want-1])
		out.NextCursor = &c
	}
	if out.Data == nil {
		out.Data = []T{}
	}
	return out, nil
}

// fetchVisiblePage is fetchPage of the rows keep accepts (all when keep
// is nil): it reads on until the page is full or the rows run out, so
// rows left out neither shorten a page nor end the list early.
func fetchVisiblePage[T any](p store.ListParams, list func(store.ListParams) ([]T, error), key func(T) string, keep func(T) bool) (*page[T], error) {
	if keep == nil {
		return fetchPage(p, list, key)
	}
	var kept []T
	q := p
	q.Limit = p.Limit + 1
	for {
		rows, err := list(q)
		if err != nil {
			return nil, err
		}
		for _, v := range rows {
			if keep(v) {
				kept = append(kept, v)
			}
		}
		if len(kept) > p.Limit || len(rows) < q.Limit {
			break
		}
		q.Cursor = key(rows[len(rows)-1])
	}
	return fetchPage(p, func(store.ListParams) ([]T, error) { return kept, nil }, key)
}

// timeRange reads ?since= and ?until= (RFC 3339).
func timeRange(r *http.Request) (since, until time.Time, e *Error) {
	q := r.URL.Query()
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return since, until, errQuery(f.name, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", f.name)
		}
		*f.dst = t
	}
	return since, until, nil
}
