// Package preset holds Herald's rules for destinations it knows by name:
// Slack, Discord, Microsoft Teams, Chatwork, Segment and Marketo. A preset
// says what request the destination expects (so that a customer gives only
// a webhook URL, a room id and a token, and no converter sits in between),
// how Herald authenticates to it, and how to read its answers when the
// HTTP status does not tell the whole story (Marketo answers 200 to a
// failed call).
//
// Every vendor rule lives here. The request shaping (internal/shape) asks
// a preset for its base request; the outbound layer (internal/outbound)
// asks it for credentials and for the meaning of an answer.
package preset

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
)

// Preset is one known destination.
type Preset struct {
	Name    string
	Doc     string
	Options []Option
	// request returns the preset's request for the given options.
	request func(o map[string]string) Request
	// auth, when set, returns the credentials the destination needs.
	auth func(o map[string]string) *herald.EndpointAuth
	// answer, when set, reads a 2xx answer's body.
	answer func(body []byte) (Verdict, string)
	// check, when set, refuses option values the destination cannot take.
	check func(o map[string]string) error
	// batch, when set, is how the destination takes many records in one
	// request: its endpoints batch by default (Batching) and their
	// batched requests take Request.Batch's shape.
	batch *herald.BatchSettings
	// batchAnswer, when set, reads a 2xx answer to a batched request of
	// n elements: the verdict of the whole request and, when it went
	// through, one Result per element.
	batchAnswer func(body []byte, n int) (Verdict, string, []Result)
}

// Result is what a destination's answer says of one element of a batched
// request.
type Result struct {
	Verdict Verdict
	// Msg explains any verdict but OK.
	Msg string
}

// Option is one setting a preset takes (in the endpoint's preset_options).
// Options named like credentials (herald.SecretOption) are encrypted at
// rest and masked wherever the endpoint is shown.
type Option struct {
	Name     string
	Required bool
	Doc      string
}

// Request is a preset's request before the endpoint's own settings: every
// field may be overridden by the endpoint.
type Request struct {
	URL string
	// URLFrom names the option the URL's host, and the host of the
	// preset's token URL, comes from (Marketo's base_url or munchkin_id),
	// so that a destination refused when saved is blamed on it; empty
	// when the host is the vendor's own.
	URLFrom     string
	Method      string
	ContentType string
	Headers     map[string]string
	// Body is the JSON body template source.
	Body string
	// Batch, when set, is the shape of a batched request, for an
	// endpoint that sends the preset's body: nil for presets that do not
	// batch by themselves.
	Batch *BatchRequest
}

// BatchRequest is how a preset's batched request is made: Element for
// each event, Body around them.
type BatchRequest struct {
	// Element is the JSON body template of one element (Marketo: the
	// lead record).
	Element string
	// Body is the JSON template of the whole request, with the tags of a
	// batch body template ({{batch.events}}).
	Body string
}

// Verdict is what a destination's answer means beyond its HTTP status.
type Verdict int

const (
	// OK: the status says it all.
	OK Verdict = iota
	// TokenRejected: the access token was refused; fetch a new one and
	// try once more.
	TokenRejected
	// Retry: a rate, concurrency or quota limit; try again later.
	Retry
	// Final: refused for good (a bad field, a bad request).
	Final
)

// OptionError is an option that cannot be used, naming it.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return e.Msg }

// Lookup returns the preset of that name ("" and "custom" are the preset
// that adds nothing), or nil when there is none.
func Lookup(name string) *Preset {
	if name == "" {
		name = "custom"
	}
	return presets[name]
}

// Names lists the presets in a stable order, for error messages.
func Names() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Request returns the preset's request for the given options.
func (p *Preset) Request(o map[string]string) Request { return p.request(o) }

// Auth returns the credentials the preset authenticates with (Marketo's
// OAuth2), or nil; an endpoint's own auth, when set, wins.
func (p *Preset) Auth(o map[string]string) *herald.EndpointAuth {
	if p.auth == nil {
		return nil
	}
	return p.auth(o)
}

// Answer reads the body of a 2xx answer, for destinations whose status
// does not say whether the call worked; the message explains any verdict
// but OK.
func (p *Preset) Answer(body []byte) (Verdict, string) {
	if p.answer == nil {
		return OK, ""
	}
	return p.answer(body)
}

// ReadsAnswers reports whether the preset reads answers beyond their
// status (Answer may say more than OK).
func (p *Preset) ReadsAnswers() bool { return p.answer != nil }

// BatchAnswer reads the body of a 2xx answer to a batched request of n
// elements: the verdict of the whole request, as Answer gives it, and,
// when the request went through (OK), one Result per element, by its
// index in the request. results is nil for presets whose answers say
// nothing of elements: the verdict is then every element's.
func (p *Preset) BatchAnswer(body []byte, n int) (v Verdict, msg string, results []Result) {
	if p.batchAnswer == nil {
		v, msg = p.Answer(body)
		return v, msg, nil
	}
	return p.batchAnswer(body, n)
}

// MaxBatchEvents is the most elements the destination takes in one
// request; 0: no bound of its own.
func (p *Preset) MaxBatchEvents() int {
	if p.batch == nil {
		return 0
	}
	return p.batch.MaxEvents
}

// Batching is the batching in force for ep: its own batch settings, else
// its preset's default, when the preset batches by itself and the endpoint
// sends the preset's own request (a push endpoint without a body template
// or a transformation of its own); nil: one request per delivery. A
// transformation's payload is the whole body of a request alone but one
// record of a batch, so an endpoint with one batches only when it says
// so: batching it by default would put the whole bodies its script makes
// today in the place of records.
func Batching(ep *herald.Endpoint) *herald.BatchSettings {
	if ep.Batch != nil {
		return ep.Batch
	}
	if ep.Preset == "" || len(ep.BodyTemplate) > 0 || ep.Transformation != "" || ep.IsPull() || ep.IsBroker() {
		return nil
	}
	if m := strings.ToUpper(ep.Method); m == "GET" || m == "DELETE" || ep.ContentType != "" && ep.ContentType != herald.ContentJSON {
		// Not the preset's request: it sends no JSON body to batch in.
		return nil
	}
	if p := presets[ep.Preset]; p != nil {
		return p.batch
	}
	return nil
}

// Check refuses unknown options and missing required ones.
func (p *Preset) Check(o map[string]string) error {
	for k := range o {
		if !slices.ContainsFunc(p.Options, func(x Option) bool { return x.Name == k }) {
			names := make([]string, len(p.Options))
			for i, x := range p.Options {
				names[i] = x.Name
			}
			if len(names) == 0 {
				return &OptionError{Option: k, Msg: fmt.Sprintf("preset %s takes no options", p.Name)}
			}
			return &OptionError{Option: k, Msg: fmt.Sprintf("preset %s has no option %q; it takes: %s", p.Name, k, strings.Join(names, ", "))}
		}
	}
	for _, x := range p.Options {
		if x.Required && strings.TrimSpace(o[x.Name]) == "" {
			return &OptionError{Option: x.Name, Msg: fmt.Sprintf("preset %s needs preset_options.%s: %s", p.Name, x.Name, x.Doc)}
		}
	}
	if p.check != nil {
		return p.check(o)
	}
	return nil
}

// jsonString quotes s as a JSON string, for building body templates.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// presets lists every preset by name.
var presets = map[string]*Preset{
	"custom": {
		Name:    "custom",
		Doc:     "no preset: the endpoint's own method, content type, headers and body",
		request: func(map[string]string) Request { return Request{} },
	},
	"slack":    slack,
	"discord":  discord,
	"teams":    teams,
	"chatwork": chatwork,
	"marketo":  marketo,
	"segment":  segment,
}
