package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heraldhq/herald/client"
)

// The commands of this file manage the API's resources (apps, event
// types, endpoints) as a script or a developer would with curl, through
// the Go client. Their output is a table for people, or the API's own
// JSON (--output json) for programs. Deleting asks nothing: scripts run
// them.

// OutputFlag chooses how a resource is printed.
type OutputFlag struct {
	Output string `name:"output" short:"o" enum:"table,json" default:"table" help:"table (aligned columns of the main fields) or json (the API's objects as returned; a list is a JSON array of all pages)."`
}

// DataFlag is the full request body, for the fields no flag sets.
type DataFlag struct {
	Data string `name:"data" placeholder:"JSON|@FILE" help:"The request body as the API takes it, JSON or @file.json; the other flags set fields on top of it."`
}

// kind describes how one resource is shown.
type kind struct {
	header []string
	row    func(raw json.RawMessage) ([]string, error)
}

// print writes objects (raw JSON as the API answered) in the chosen
// format; list says the answer was a list (a JSON array, even of one).
func (k kind) print(w io.Writer, output string, list bool, objs ...json.RawMessage) error {
	if output == "json" {
		// The objects' bytes as the API wrote them, only indented.
		var raw []byte
		if !list && len(objs) == 1 {
			raw = objs[0]
		} else {
			raw = []byte("[")
			for i, o := range objs {
				if i > 0 {
					raw = append(raw, ',')
				}
				raw = append(raw, o...)
			}
			raw = append(raw, ']')
		}
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			return fmt.Errorf("the answer is not JSON: %w", err)
		}
		b.WriteByte('\n')
		_, err := w.Write(b.Bytes())
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(k.header, "\t"))
	for _, o := range objs {
		cells, err := k.row(o)
		if err != nil {
			return err
		}
		for i, c := range cells {
			// A tab or line end in a value would break the columns.
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// rowOf decodes raw into a T and makes its row.
func rowOf[T any](f func(T) []string) func(json.RawMessage) ([]string, error) {
	return func(raw json.RawMessage) ([]string, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("the answer is not of the documented shape: %w", err)
		}
		return f(v), nil
	}
}

func or(s *string, def string) string {
	if s == nil || *s == "" {
		return def
	}
	return *s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

var (
	appKind = kind{
		header: []string{"ID", "UID", "NAME", "CREATED"},
		row: rowOf(func(a client.App) []string {
			return []string{a.ID, or(a.UID, "-"), a.Name, a.CreatedAt.Local().Format(time.DateTime)}
		}),
	}
	eventTypeKind = kind{
		header: []string{"NAME", "GROUP", "DEPRECATED", "SAMPLE", "DESCRIPTION"},
		row: rowOf(func(t client.EventType) []string {
			sample := "no"
			if t.Sample != nil {
				sample = "yes"
			}
			return []string{t.Name, dash(t.Group), fmt.Sprint(t.Deprecated), sample, dash(t.Description)}
		}),
	}
	endpointKind = kind{
		header: []string{"ID", "KIND", "URL", "EVENTS", "ENABLED", "DESCRIPTION"},
		row: rowOf(func(e client.Endpoint) []string {
			events := strings.Join(e.EventTypes, ",")
			if events == "" {
				events = "(all)"
			}
			return []string{e.ID, string(e.Kind), dash(e.URL), events, fmt.Sprint(e.Enabled), dash(e.Description)}
		}),
	}
)

// rawPage is any list answer, its items kept as the API wrote them.
type rawPage struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor *string           `json:"next_cursor"`
}

// listAll walks a list to its end; page fetches one page's answer body.
func listAll(ctx context.Context, page func(ctx context.Context, cursor *string) ([]byte, error)) ([]json.RawMessage, error) {
	var all []json.RawMessage
	for item, err := range client.Pages(ctx, func(ctx context.Context, cursor *string) ([]json.RawMessage, *string, error) {
		body, err := page(ctx, cursor)
		if err != nil {
			return nil, nil, err
		}
		var p rawPage
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, nil, fmt.Errorf("the answer is not of the documented shape: %w", err)
		}
		return p.Data, p.NextCursor, nil
	}) {
		if err != nil {
			return nil, err
		}
		all = append(all, item)
	}
	return all, nil
}

// splitList reads a comma-separated flag.
func splitList(s string) []string {
	out := []string{}
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Apps is `herald apps`.
type Apps struct {
	DataDirFlag
	List   AppsList   `cmd:"" help:"List the apps."`
	Get    AppsGet    `cmd:"" help:"Show an app."`
	Create AppsCreate `cmd:"" help:"Create an app."`
	Update AppsUpdate `cmd:"" help:"Change an app's fields."`
	Delete AppsDelete `cmd:"" help:"Delete an app, with its endpoints, events and deliveries. Asks no confirmation."`
}

// AppsList is `herald apps list`.
type AppsList struct{ OutputFlag }

// Run prints every app.
func (c *AppsList) Run(ctx context.Context, env Env) error {
	h, err := Dial(env.Remote)
	if err != nil {
		return err
	}
	all, err := listAll(ctx, func(ctx context.Context, cursor *string) ([]byte, error) {
		res, err := h.ListAppsWithResponse(ctx, &client.ListAppsParams{Cursor: cursor})
		if err != nil {
			return nil, err
		}
		return res.Body, nil
	})
	if err != nil {
		return err
	}
	return appKind.print(env.Stdout, c.Output, true, all...)
}

// AppsGet is `herald apps get`.
type AppsGet struct {
	App string `arg:"" help:"The app's id or uid."`
	OutputFlag
}

// Run prints the app.
func (c *AppsGet) Run(ctx context.Context, env Env) error {
	h, err := Dial(env.Remote)
	if err != nil {
		return err
	}
	res, err := h.GetAppWithResponse(ctx, c.App)
	if err != nil {
		return err
	}
	return appKind.print(env.Stdout, c.Output, false, res.Body)
}

// appFields are the flags of an app's common fields.
type appFields struct {
	Name string `name:"name" help:"The app's name."`
	UID  string `name:"uid" help:"Your own identifier of the app, usable in place of its id."`
	DataFlag
}

func (f appFields) body() (map[string]any, error) {
	body, err := jsonObject("--data", f.Data)
	if err != nil {
		return nil, err
	}
	if f.Name != "" {
		body["name"] = f.Name
	}
	if f.UID != "" {
		body["uid"] = f.UID
	}
	return body, nil
}

// AppsCreate is `herald apps create`.
type AppsCreate struct {
	appFields
	OutputFlag
}

// Run creates the app and prints it.
func (c *AppsCreate) Run(ctx context.Context, env Env) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	if _, ok := body["name"]; !ok {
		return usagef("give the app's --name (or a name in --data)")
	}
	return write(ctx, env, body, appKind, c.Output, func(h *client.Herald, rd io.Reader) ([]byte, error) {
		res, err := h.CreateAppWithBodyWithResponse(ctx, jsonContent, rd)
		if err != nil {
			return nil, err
		}
		return res.Body, nil
	})
}

// AppsUpdate is `herald apps update`.
type AppsUpdate struct {
	App string `arg:"" help:"The app's id or uid."`
	appFields
	OutputFlag
}

// Run changes the app and prints it.
func (c *AppsUpdate) Run(ctx context.Context, env Env) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	return write(ctx, env, body, appKind, c.Output, func(h *client.Herald, rd io.Reader) ([]byte, error) {
		res, err := h.UpdateAppWithBodyWithResponse(ctx, c.App, jsonContent, rd)
		if err != nil {
			return nil, err
		}
		return res.Body, nil
	})
}

// AppsDelete is `herald apps delete`.
type AppsDelete struct {
	App string `arg:"" help:"The app's id or uid."`
}

// Run deletes the app.
func (c *AppsDelete) Run(ctx context.Context, env Env) error {
	h, err := Dial(env.Remote)
	if err != nil {
		return err
	}
	if _, err := h.DeleteAppWithResponse(ctx, c.App); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "deleted the app %s\n", c.App)
	return nil
}

// EventTypes is `herald event-types`.
type EventTypes struct {
	DataDirFlag
	List   EventTypesList   `cmd:"" help:"List the catalog of event types."`
	Get    EventTypesGet    `cmd:"" help:"Show an event type, with its schema and sample (--output json)."`
	Create EventTypesCreate `cmd:"" help:"Add an event type to the catalog."`
	Update EventTypesUpdate `cmd:"" help:"Change an event type's fields."`
	Delete EventTypesDelete `cmd:"" help:"Delete an event type. Asks no confirmation."`
}

// EventTypesList is `herald event-types list`.
type EventTypesList struct{ OutputFlag }

// Run prints the catalog.
func (c *EventTypesList) Run(ctx context.Context, env Env) error {
	h, err := Dial(env.Remote)
	if err != nil {
		return err
	}
	all, err := listAll(ctx, func(ctx context.Context, cursor *string) ([]byte, error) {
		res, err := h.ListEventTypesWithResponse(ctx, &client.ListEventTypesParams{Cursor: cursor})
		if err != nil {
			return nil, err
		}
		return res.Body, nil
	})
	if err != nil {
		return err
	}
	return eventTypeKind.print(env.Stdout, c.Output, true, all...)
}

// EventTypesGet is `herald event-types get`.
type EventTypesGet struct {
	Name string `arg:"" help:"The event type's name."`
	OutputFlag
}

// Run prints the event type.
func (c *EventTypesGet) Run(ctx context.Context, env Env) error {
	h, err := Dial(env.Remote)
	if err != nil {
		return err
	}
	res, err := h.GetEventTypeWithResponse(ctx, c.Name)
	if err != nil {
		return err
	}
	return eventTypeKind.print(env.Stdout, c.Output, false, res.Body)
}

// eventTypeFields are the flags of an event type's common fields.
type eventTypeFields struct {
	Description string `name:"description" help:"What the event means."`
	Group       string `name:"group" help:"A category; endpoints subscribe to a whole group with group:NAME."`
	Sample      string `name:"sample" placeholder:"JSON|@FILE" help:"A sample payload (herald trigger sends it)."`
	Schema      string `name:"schema" placeholder:"JSON|@FILE" help:"A JSON Schema every payload must match."`
	DataFlag
}

func (f eventTypeFields) body() (map[string]any, error) {
	body, err := jsonObject("--data", f.Data)
	if err != nil {
		return nil, err
	}
	if f.Description != "" {
		body["description"] = f.Description
	}
	if f.Group != "" {
		body["group"] = f.Group
	}
	for flag, v := range map[string]string{"sample": f.Sample, "schema": f.Schema} {
		if v == "" {
			continue
		}
		raw, err := jsonArg("--"+flag, v)
		if err != nil {
			return nil, err
		}
		body[flag] = raw
	}
	return body, nil
}

// EventTypesCreate is `herald event-types create`.
type EventTypesCreate struct {
	Name string `arg:"" optional:"" help:"The event type's name (or a name in --data)."`
	eventTypeFields
	OutputFlag
}

// Run creates the event type and prints it.
func (c *EventTypesCreate) Run(ctx context.Context, env Env) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	if c.Name != "" {
		body["name"] = c.Name
	}
	if _, ok := body["name"]; !ok {
		return usagef("give the event type's name: herald event-types create NAME")
	}
	return write(ctx, env, body, eventTypeKind, c.Output, func(h *client.Herald, rd io.Reader) ([]byte, error) {
		res, err := h.CreateEventTypeWithBodyWithResponse(ctx, jsonContent, rd)
		if err != nil {
			return nil, err
		}
		return res.Body, nil
	})
}

// EventTypesUpdate is `herald event-types update`.
type EventTypesUpdate struct {
	Name string `arg:"" help:"The event type's name."`
	eventTypeFields
	OutputFlag
}

// Run changes the event type and prints it.
func (c *EventTypesUpdate) Run(ctx context.Context, env Env) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	return write(ctx, env, body, eventTypeKind, c.Output, func(h *client.Herald, rd io.Reader) ([]byte, error) {
		res, err := h.UpdateEventTypeWithBodyWithResponse(ctx, c.Name, jsonContent, rd)
		if err != nil {
			return nil, err
		}
		return res.Body, nil
	})
}

// EventTypesDelete is `herald event-types delete`.
type EventTypesDelete struct {
	Name string `arg:"" help:"The event type's name."`
}

// Run deletes the event type.
func (c *EventTypesDelete) Run(ctx context.Context, env Env) error {
	h, err := Dial(env.Remote)
	if err != nil {
		return err
	}
	if _, err := h.DeleteEventTypeWithResponse(ctx, c.Name); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "deleted the event type %s\n", c.Name)
	return nil
}

// Endpoints is `herald endpoints`.
type Endpoints struct {
	DataDirFlag
	List   EndpointsList   `cmd:"" help:"List an app's endpoints."`
	Get    EndpointsGet    `cmd:"" help:"Show an endpoint."`
	Create EndpointsCreate `cmd:"" help:"Create an endpoint: a URL subscribed to event types (or --pull)."`
	Update EndpointsUpdate `cmd:"" help:"Change an endpoint's fields."`
	Delete EndpointsDelete `cmd:"" help:"Delete an endpoint (its pending deliveries fail). Asks no confirmation."`
}

// EndpointsList is `herald endpoints list`.
type EndpointsList struct {
	AppFlag
	OutputFlag
}

// Run prints the app's endpoints.
func (c *EndpointsList) Run(ctx context.Context, env Env) error {
	h, app, err := c.dial(ctx, env)
	if err != nil {
		return err
	}
	all, err := listAll(ctx, func(ctx context.Context, cursor *string) ([]byte, error) {
		res, err := h.ListEndpointsWithResponse(ctx, app, &client.ListEndpointsParams{Cursor: cursor})
		if err != nil {
			return nil, err
		}
		return res.Body, nil
	})
	if err != nil {
		return err
	}
	return endpointKind.print(env.Stdout, c.Output, true, all...)
}

// EndpointsGet is `herald endpoints get`.
type EndpointsGet struct {
	ID string `arg:"" help:"The endpoint's id (ep_…)."`
	AppFlag
	OutputFlag
}

// Run prints the endpoint.
func (c *EndpointsGet) Run(ctx context.Context, env Env) error {
	h, app, err := c.dial(ctx, env)
	if err != nil {
		return err
	}
	res, err := h.GetEndpointWithResponse(ctx, app, c.ID)
	if err != nil {
		return err
	}
	return endpointKind.print(env.Stdout, c.Output, false, res.Body)
}

// endpointFields are the flags of an endpoint's common fields.
type endpointFields struct {
	URL         string `name:"url" help:"Where Herald sends the deliveries."`
	Events      string `name:"events" placeholder:"TYPES" help:"Comma-separated subscriptions: names, prefix wildcards (lead.*), groups (group:nps)."`
	Description string `name:"description" help:"What the endpoint is for."`
	DataFlag
}

func (f endpointFields) body() (map[string]any, error) {
	body, err := jsonObject("--data", f.Data)
	if err != nil {
		return nil, err
	}
	if f.URL != "" {
		body["url"] = f.URL
	}
	if f.Events != "" {
		body["event_types"] = splitList(f.Events)
	}
	if f.Description != "" {
		body["description"] = f.Description
	}
	return body, nil
}

// EndpointsCreate is `herald endpoints create`.
type EndpointsCreate struct {
	AppFlag
	endpointFields
	Pull bool `name:"pull" help:"A pull endpoint: no URL; a client pulls its deliveries (as herald listen does)."`
	OutputFlag
}

// Run creates the endpoint and prints it.
func (c *EndpointsCreate) Run(ctx context.Context, env Env) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	if c.Pull {
		body["kind"] = string(client.EndpointKindPull)
	}
	return write(ctx, env, body, endpointKind, c.Output, func(h *client.Herald, rd io.Reader) ([]byte, error) {
		app, err := c.resolve(ctx, h)
		if err != nil {
			return nil, err
		}
		res, err := h.CreateEndpointWithBodyWithResponse(ctx, app, jsonContent, rd)
		if err != nil {
			return nil, err
		}
		return res.Body, nil
	})
}

// EndpointsUpdate is `herald endpoints update`.
type EndpointsUpdate struct {
	ID string `arg:"" help:"The endpoint's id (ep_…)."`
	AppFlag
	endpointFields
	Enable  bool `name:"enable" xor:"enabled" help:"Enable the endpoint: its paused deliveries resume."`
	Disable bool `name:"disable" xor:"enabled" help:"Disable the endpoint: events are not queued for it meanwhile."`
	OutputFlag
}

// Run changes the endpoint and prints it.
func (c *EndpointsUpdate) Run(ctx context.Context, env Env) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	switch {
	case c.Enable:
		body["enabled"] = true
	case c.Disable:
		body["enabled"] = false
	}
	return write(ctx, env, body, endpointKind, c.Output, func(h *client.Herald, rd io.Reader) ([]byte, error) {
		app, err := c.resolve(ctx, h)
		if err != nil {
			return nil, err
		}
		res, err := h.UpdateEndpointWithBodyWithResponse(ctx, app, c.ID, jsonContent, rd)
		if err != nil {
			return nil, err
		}
		return res.Body, nil
	})
}

// EndpointsDelete is `herald endpoints delete`.
type EndpointsDelete struct {
	ID string `arg:"" help:"The endpoint's id (ep_…)."`
	AppFlag
}

// Run deletes the endpoint.
func (c *EndpointsDelete) Run(ctx context.Context, env Env) error {
	h, app, err := c.dial(ctx, env)
	if err != nil {
		return err
	}
	if _, err := h.DeleteEndpointWithResponse(ctx, app, c.ID); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "deleted the endpoint %s\n", c.ID)
	return nil
}

// write sends body to the server with call (a create or an update of the
// generated client, given the JSON body, returning the answer's body) and
// prints the object it answers as k.
func write(ctx context.Context, env Env, body map[string]any, k kind, output string, call func(h *client.Herald, body io.Reader) ([]byte, error)) error {
	h, err := Dial(env.Remote)
	if err != nil {
		return err
	}
	rd, err := bodyOf(body)
	if err != nil {
		return err
	}
	raw, err := call(h, rd)
	if err != nil {
		return err
	}
	return k.print(env.Stdout, output, false, raw)
}
