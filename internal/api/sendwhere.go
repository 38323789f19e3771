package api

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Bounds of a manual send that picks events by the product's own keys.
const (
	// maxSendScan is how many of the app's newest events a search reads
	// at most, whatever its history holds.
	maxSendScan = 10_000
	// maxWhereField bounds the field's name and its depth.
	maxWhereField, maxWhereDepth = 200, 10
	// maxWhereValue bounds each value looked for.
	maxWhereValue = 1000
)

// sendInput is the body of POST .../endpoints/{id}/send.
type sendInput struct {
	EventIDs []string   `json:"event_ids"`
	Where    *sendWhere `json:"where"`
	Since    *string    `json:"since"`
	Limit    *int       `json:"limit"`
	DryRun   bool       `json:"dry_run"`
}

// sendWhere picks events by a payload field (Field and In) or by their
// idempotency keys.
type sendWhere struct {
	Field          *string           `json:"field"`
	In             []json.RawMessage `json:"in"`
	IdempotencyKey *struct {
		In []json.RawMessage `json:"in"`
	} `json:"idempotency_key"`
}

// findParams reads the search; errors name the field at fault.
func (in *sendInput) findParams(appID string, now time.Time) (store.EventFindParams, *Error) {
	p := store.EventFindParams{AppID: appID, Now: now, Scan: maxSendScan, Limit: maxSendEvents}
	w := in.Where
	var raw []json.RawMessage
	inField := "where.in"
	switch {
	case w.Field != nil && w.IdempotencyKey != nil:
		return p, errInvalid("where", "where takes field and in, or idempotency_key, not both")
	case w.IdempotencyKey != nil:
		if w.In != nil {
			return p, errInvalid("where.in", "with idempotency_key, in goes inside it: {\"idempotency_key\": {\"in\": [...]}}")
		}
		raw, inField = w.IdempotencyKey.In, "where.idempotency_key.in"
	case w.Field != nil:
		path, e := wherePath(*w.Field)
		if e != nil {
			return p, e
		}
		p.Path, raw = path, w.In
	default:
		return p, errRequired("where.field")
	}
	if len(raw) == 0 {
		return p, errRequired(inField)
	}
	if len(raw) > maxSendEvents {
		return p, errInvalid(inField, "%s may list at most %d values", inField, maxSendEvents)
	}
	seen := map[string]bool{}
	for i, v := range raw {
		text, ok := whereValue(v)
		if !ok {
			return p, errInvalid(inField, "%s[%d] must be a string or a number", inField, i)
		}
		if len(text) > maxWhereValue {
			return p, errInvalid(inField, "%s[%d] is longer than %d bytes", inField, i, maxWhereValue)
		}
		if !seen[text] {
			seen[text] = true
			p.Values = append(p.Values, text)
		}
	}
	if in.Since != nil {
		since, err := time.Parse(time.RFC3339Nano, *in.Since)
		if err != nil {
			return p, errInvalid("since", "since must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		p.Since = since
	}
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > maxSendEvents {
			return p, errInvalid("limit", "limit must be from 1 to %d", maxSendEvents)
		}
		p.Limit = *in.Limit
	}
	return p, nil
}

// wherePath splits a field name at its dots, one object key per level.
// Quotes, backslashes and control characters are refused: no payload
// key of the products this is for holds them, and a store's path syntax
// would have to escape them.
func wherePath(field string) ([]string, *Error) {
	if field == "" {
		return nil, errRequired("where.field")
	}
	if len(field) > maxWhereField {
		return nil, errInvalid("where.field", "where.field is longer than %d bytes", maxWhereField)
	}
	if i := strings.IndexFunc(field, func(c rune) bool { return c == '"' || c == '\\' || c < 0x20 || c == 0x7f }); i >= 0 {
		return nil, errInvalid("where.field", "where.field may not hold %q", field[i:i+1])
	}
	path := strings.Split(field, ".")
	if len(path) > maxWhereDepth {
		return nil, errInvalid("where.field", "where.field may go %d levels deep at most", maxWhereDepth)
	}
	for _, k := range path {
		if k == "" {
			return nil, errInvalid("where.field", "where.field %q has an empty level: name keys joined by single dots, such as lead.id", field)
		}
	}
	return path, nil
}

// whereValue is a value looked for as text: a string's value, a number's
// JSON text as given.
func whereValue(v json.RawMessage) (string, bool) {
	var x any
	dec := json.NewDecoder(strings.NewReader(string(v)))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return "", false
	}
	switch x := x.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}
