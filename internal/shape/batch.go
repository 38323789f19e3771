package shape

import (
	"fmt"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/preset"
	"github.com/heraldhq/herald/internal/template"
)

// batchShape is how an endpoint's batched request is made of its
// deliveries.
type batchShape struct {
	// element is herald.BatchElementStandard or herald.BatchElementBody.
	element string
	// body renders the whole request around the elements; nil: the JSON
	// array of the elements alone.
	body *template.JSON
	// elem, when set, renders a body element in place of the endpoint's
	// body: a preset's record (Marketo's lead) without the single
	// request's wrapper.
	elem *template.JSON
}

// batchNames are what a batch body template may name: it renders once
// for many events, so no event's payload or metadata.
var batchNames = []string{"batch.events", "batch.id", "batch.size", "app.id", "app.uid", "app.name", "endpoint.id"}

// compileBatch prepares the endpoint's batch shape, when it batches (its
// own batch settings or its preset's, preset.Batching). A preset with a
// batch shape of its own gives it unless the endpoint has its own body
// template or batch body template.
func (c *Compiled) compileBatch(ep *herald.Endpoint, pr preset.Request, o template.Options) error {
	bs := preset.Batching(ep)
	if bs == nil {
		return nil
	}
	if pr.Batch != nil && len(ep.BodyTemplate) == 0 && len(bs.BodyTemplate) == 0 && (bs.Element == "" || bs.Element == herald.BatchElementStandard) {
		elem, err := template.ParseJSON([]byte(pr.Batch.Element), o)
		if err != nil {
			return &FieldError{Field: "preset_options", Msg: "the preset's batch element: " + err.Error()}
		}
		bo := o
		bo.Batch, bo.Titles = true, nil
		body, err := template.ParseJSON([]byte(pr.Batch.Body), bo)
		if err != nil {
			return &FieldError{Field: "preset_options", Msg: "the preset's batch body: " + err.Error()}
		}
		c.batch = batchShape{element: herald.BatchElementBody, body: body, elem: elem}
		return nil
	}
	switch bs.Element {
	case "", herald.BatchElementStandard:
		c.batch.element = herald.BatchElementStandard
	case herald.BatchElementBody:
		c.batch.element = herald.BatchElementBody
	default:
		return &FieldError{Field: "batch.element", Msg: fmt.Sprintf("batch.element %q is not standard (each element {\"id\", \"type\", \"timestamp\", \"data\"}) or body (each element the body the endpoint makes for its event)", bs.Element)}
	}
	if len(bs.BodyTemplate) == 0 {
		return nil
	}
	o.Batch, o.Titles = true, nil
	t, err := template.ParseJSON(bs.BodyTemplate, o)
	if err != nil {
		return &FieldError{Field: "batch.body_template", Msg: "batch.body_template: " + err.Error()}
	}
	paths := t.Paths()
	for _, p := range paths {
		if !slices.Contains(batchNames, p) {
			return &FieldError{Field: "batch.body_template", Msg: fmt.Sprintf("batch.body_template names %q, which a batch does not have: it renders once for all its events, and names only %s", p, strings.Join(batchNames, ", "))}
		}
	}
	if !slices.Contains(paths, "batch.events") {
		return &FieldError{Field: "batch.body_template", Msg: "batch.body_template must place batch.events (the array of the batch's elements), e.g. {\"records\": \"{{batch.events}}\"}: a batch body without its events would send nothing"}
	}
	c.batch.body = t
	return nil
}

// BatchElement is what each element of the endpoint's batched requests
// is: herald.BatchElementStandard or herald.BatchElementBody.
func (c *Compiled) BatchElement() string {
	if c.batch.element == "" {
		return herald.BatchElementStandard
	}
	return c.batch.element
}

// OwnElement reports whether a body element has a template of its own (a
// preset's record), rendered by Element, rather than being the body Build
// makes.
func (c *Compiled) OwnElement() bool { return c.batch.elem != nil }

// Element renders an event's element of a batch when OwnElement; the cap
// applies to it alone, the batch's body to the whole.
func (c *Compiled) Element(in Event) ([]byte, error) {
	d, err := eventData(in)
	if err != nil {
		return nil, err
	}
	b, err := c.batch.elem.RenderLimit(d, c.max)
	if err != nil {
		return nil, c.renderError("body_template", err)
	}
	return b, nil
}

// Batch is what a batched request's body is made of.
type Batch struct {
	// ID is the batch id, the request's webhook-id.
	ID string
	// Size is the number of elements.
	Size int
	// Elements is their JSON array.
	Elements []byte
	App      *herald.App
	Endpoint *herald.Endpoint
}

// BatchBody is the body of a batched request: the endpoint's batch body
// template rendered for the batch, else the array of elements itself.
// Rendering stops with a TooLargeError past the cap.
func (c *Compiled) BatchBody(b Batch) ([]byte, error) {
	if c.batch.body == nil {
		if len(b.Elements) > c.max {
			return nil, c.renderError("batch", template.ErrTooLarge)
		}
		return b.Elements, nil
	}
	d := &template.Data{
		Endpoint: template.EndpointInfo{ID: b.Endpoint.ID},
		Batch:    template.BatchInfo{ID: b.ID, Size: b.Size, Events: b.Elements},
	}
	if b.App != nil {
		d.App = template.AppInfo{ID: b.App.ID, UID: b.App.UID, Name: b.App.Name}
	}
	body, err := c.batch.body.RenderLimit(d, c.max)
	if err != nil {
		return nil, c.renderError("batch.body_template", err)
	}
	return body, nil
}
