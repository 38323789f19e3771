package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Syntax selects the tag delimiters, so that customers migrating from
// another tool can keep the templates they already wrote.
type Syntax int

const (
	// Braces tags look like {{ expr }}; it is the default.
	Braces Syntax = iota
	// Hash tags look like #{ expr }, as in KARTE.
	Hash
)

// String names the syntax in messages and logs.
func (s Syntax) String() string {
	switch s {
	case Braces:
		return "braces"
	case Hash:
		return "hash"
	}
	return "Syntax(" + strconv.Itoa(int(s)) + ")"
}

// delims returns the opening and closing delimiters of the syntax.
func (s Syntax) delims() (open, close string, ok bool) {
	switch s {
	case Braces:
		return "{{", "}}", true
	case Hash:
		return "#{", "}", true
	}
	return "", "", false
}

// Options are fixed when a template is parsed, so that rendering (once per
// delivery) does no lookups that could have been done once.
type Options struct {
	// Syntax of the tags; the zero value is Braces.
	Syntax Syntax
	// Titles maps a field's display title to its dotted payload path, so
	// that customers can write the name they see in the form builder
	// ({{会社名}}) instead of the field's key. TitlesFromSchema builds it.
	// A path that exists in the payload always wins over a title.
	Titles map[string]string
	// Strict makes a missing value an error at render time instead of an
	// empty text or null, for customers who prefer a failed delivery to an
	// incomplete one.
	Strict bool
	// Batch lets the template name the batch it renders for
	// ({{batch.id}}, {{batch.size}}, {{batch.events}}): an endpoint's
	// batch body template. In any other template these are payload
	// paths, as they always were.
	Batch bool
}

// Data is everything a tag can name: the event's payload and the metadata
// Herald knows about the delivery.
type Data struct {
	// Payload is the event payload as returned by DecodePayload: nil,
	// string, json.Number, bool, map[string]any and []any. Numbers must be
	// json.Number so that their digits are sent exactly as received.
	Payload any
	// RawPayload is the payload's JSON text, when known: objects and
	// arrays taken from it are written with the keys in the order the
	// sender wrote them, not sorted as a decoded map would give them.
	RawPayload []byte
	Event      EventInfo
	App        AppInfo
	Endpoint   EndpointInfo
	Delivery   DeliveryInfo
	// Batch is the batch a batch body template renders for.
	Batch BatchInfo
}

// DeliveryInfo is the delivery metadata reachable as {{delivery.id}}: the
// id receivers deduplicate on, also where a batch element carries no
// other.
type DeliveryInfo struct {
	ID string
}

// BatchInfo is what a batch body template (Options.Batch) names:
// {{batch.id}}, {{batch.size}} and {{batch.events}}.
type BatchInfo struct {
	ID   string
	Size int
	// Events is the JSON array of the batch's elements, as Herald made
	// it: written into the body as it is.
	Events []byte
}

// EventInfo is the event metadata reachable as {{event.id}},
// {{event.type}} and {{event.timestamp}}.
type EventInfo struct {
	ID   string
	Type string
	// Timestamp renders as RFC 3339 in UTC with milliseconds; the zero
	// time counts as missing.
	Timestamp time.Time
}

// AppInfo is the app metadata reachable as {{app.id}}, {{app.uid}} and
// {{app.name}}.
type AppInfo struct {
	ID   string
	UID  string
	Name string
}

// EndpointInfo is the endpoint metadata reachable as {{endpoint.id}}.
type EndpointInfo struct {
	ID string
}

// timestampLayout is how {{event.timestamp}} renders, matching the
// timestamp of Herald's default body.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// DecodePayload decodes a stored event payload into the form Data.Payload
// expects, keeping numbers as json.Number so that 12345678901234567890 or
// 1.50 are re-sent digit for digit. An empty payload decodes to nil (null).
func DecodePayload(raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("template: payload is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("template: payload is not valid JSON: unexpected data after the value")
	}
	return v, nil
}

// ParseError reports a template that cannot be used, with the place of the
// mistake so that the customer can find it in a long body.
type ParseError struct {
	// Pos is the byte offset in the source: the template string for
	// ParseText, the whole JSON document for ParseJSON.
	Pos int
	// Line and Col are 1-based; Col counts characters, not bytes, so that
	// it matches what an editor shows for Japanese text.
	Line, Col int
	Msg       string
}

// Error formats the message with its line and column, ready for an API
// response.
func (e *ParseError) Error() string {
	return fmt.Sprintf("template: line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// newParseError locates pos in src.
func newParseError(src []byte, pos int, msg string) *ParseError {
	pos = max(0, min(pos, len(src)))
	line, col := 1, 1
	for _, r := range string(src[:pos]) {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &ParseError{Pos: pos, Line: line, Col: col, Msg: msg}
}

// MissingError is returned by strict templates when a tag names a value the
// event does not have, so that the delivery can be failed with a message
// naming the variable.
type MissingError struct {
	// Path is the tag's path as the customer wrote it.
	Path string
}

// Error names the missing variable.
func (e *MissingError) Error() string {
	return "template: missing value for " + strconv.Quote(e.Path)
}

// FilterError is returned by strict templates when a filter cannot use the
// value it is given (a date filter on text that is not a time), so that the
// customer learns which tag and filter to fix.
type FilterError struct {
	// Path is the tag's path as the customer wrote it.
	Path string
	// Filter is the filter's name.
	Filter string
	// Msg says what the filter needed.
	Msg string
}

// Error names the tag, the filter and the reason.
func (e *FilterError) Error() string {
	return fmt.Sprintf("template: filter %q cannot use the value of %q: %s", e.Filter, e.Path, e.Msg)
}

// ErrTooLarge is returned by the Render…Limit methods when the output (or a
// value a filter works on) would pass the limit given: rendering stops
// there, so that a template cannot make Herald build a request larger than
// the installation sends.
var ErrTooLarge = errors.New("template: the rendered output is over the size limit")

// ErrNotObject is returned by RenderFields for a template whose top level
// is not a JSON object: a form body or a query string is a list of named
// fields, and only an object names them.
var ErrNotObject = errors.New("template: a form or query template must be a JSON object")
