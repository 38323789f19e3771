package shape

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
)

// Preset fills the request for a known destination, so that a customer
// gives only what that destination needs (its webhook URL, a room id and a
// token) and no converter sits in between.
type Preset struct {
	Name    string
	Doc     string
	Options []Option
	// base returns the preset's request for the given options; every
	// field of it may be overridden by the endpoint's own settings.
	base func(o map[string]string) base
}

// Option is one setting a preset takes (in the endpoint's preset_options).
type Option struct {
	Name     string
	Required bool
	// Secret options are masked wherever the endpoint is shown.
	Secret bool
	Doc    string
}

// base is a preset's request before the endpoint's overrides.
type base struct {
	URL         string
	Method      string
	ContentType string
	Headers     map[string]string
	// Body is the JSON body template source.
	Body string
}

// jsonString quotes s as a JSON string, for building body templates.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Default message texts: what happened, for which customer, and the data.
// Each preset's option "message" replaces it with the customer's template.
const (
	slackMessage    = "*{{event.type}}* ({{app.name}})\n```{{payload | json | truncate:2500}}```"
	discordMessage  = "**{{event.type}}** ({{app.name}})\n```json\n{{payload | json | truncate:1800}}\n```"
	teamsMessage    = "**{{event.type}}** ({{app.name}})\n\n{{payload | json | truncate:2500}}"
	chatworkMessage = "[info][title]{{event.type}} ({{app.name}})[/title]{{payload | json | truncate:2500}}[/info]"
)

func message(o map[string]string, def string) string {
	if m := o["message"]; m != "" {
		return m
	}
	return def
}

var messageOption = Option{Name: "message", Doc: "the message text, a template; default: the event type, the app and the payload"}

// Presets lists every preset by name.
var Presets = map[string]*Preset{
	"custom": {
		Name: "custom",
		Doc:  "no preset: the endpoint's own method, content type, headers and body",
		base: func(map[string]string) base { return base{} },
	},
	"slack": {
		Name:    "slack",
		Doc:     "Slack incoming webhook: give its URL as the endpoint url",
		Options: []Option{messageOption},
		base: func(o map[string]string) base {
			return base{Method: "POST", ContentType: ContentJSON, Body: `{"text":` + jsonString(message(o, slackMessage)) + `}`}
		},
	},
	"discord": {
		Name:    "discord",
		Doc:     "Discord webhook: give its URL as the endpoint url",
		Options: []Option{messageOption},
		base: func(o map[string]string) base {
			return base{Method: "POST", ContentType: ContentJSON, Body: `{"content":` + jsonString(message(o, discordMessage)) + `}`}
		},
	},
	"teams": {
		Name:    "teams",
		Doc:     "Microsoft Teams incoming webhook: give its URL as the endpoint url",
		Options: []Option{messageOption},
		base: func(o map[string]string) base {
			return base{Method: "POST", ContentType: ContentJSON, Body: `{"text":` + jsonString(message(o, teamsMessage)) + `}`}
		},
	},
	"chatwork": {
		Name: "chatwork",
		Doc:  "Chatwork: posts a message to a room through Chatwork's API; no url needed",
		Options: []Option{
			{Name: "room_id", Required: true, Doc: "the room to post to (may hold template tags)"},
			{Name: "api_token", Required: true, Secret: true, Doc: "a Chatwork API token, sent as X-ChatWorkToken"},
			messageOption,
		},
		base: func(o map[string]string) base {
			return base{
				URL:         "https://api.chatwork.com/v2/rooms/" + o["room_id"] + "/messages",
				Method:      "POST",
				ContentType: ContentForm,
				Headers:     map[string]string{"X-ChatWorkToken": o["api_token"]},
				Body:        `{"body":` + jsonString(message(o, chatworkMessage)) + `}`,
			}
		},
	},
	"marketo": {
		Name: "marketo",
		Doc:  "Marketo: createOrUpdate leads through Marketo's REST API, with OAuth2 against its identity endpoint; no url needed",
		Options: []Option{
			{Name: "munchkin_id", Required: true, Doc: "the instance's Munchkin id (e.g. 123-ABC-456)"},
			{Name: "client_id", Required: true, Doc: "a LaunchPoint service's client id"},
			{Name: "client_secret", Required: true, Secret: true, Doc: "that service's client secret"},
			{Name: "lookup_field", Doc: "the field that finds an existing lead; default email"},
			{Name: "input", Doc: "the lead record, a JSON template; default: immdio's lead fields mapped to Marketo's"},
			{Name: "base_url", Doc: "the instance's REST base; default https://<munchkin_id>.mktorest.com"},
		},
		base: func(o map[string]string) base {
			input := o["input"]
			if input == "" {
				input = marketoInput
			}
			lookup := o["lookup_field"]
			if lookup == "" {
				lookup = "email"
			}
			return base{
				URL:         marketoBase(o) + "/rest/v1/leads.json",
				Method:      "POST",
				ContentType: ContentJSON,
				Body:        `{"action":"createOrUpdate","lookupField":` + jsonString(lookup) + `,"input":[` + input + `]}`,
			}
		},
	},
	"segment": {
		Name: "segment",
		Doc:  "Segment: a track call through Segment's HTTP API; no url needed",
		Options: []Option{
			{Name: "write_key", Required: true, Secret: true, Doc: "the source's write key, sent with HTTP Basic auth"},
			{Name: "user_id", Doc: "the userId, a template; default {{user_id}}"},
			{Name: "anonymous_id", Doc: "the anonymousId, a template; default {{app.id}}"},
		},
		base: func(o map[string]string) base {
			userID, anonID := o["user_id"], o["anonymous_id"]
			if userID == "" {
				userID = "{{user_id}}"
			}
			if anonID == "" {
				anonID = "{{app.id}}"
			}
			return base{
				URL:         "https://api.segment.io/v1/track",
				Method:      "POST",
				ContentType: ContentJSON,
				Headers:     map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(o["write_key"]+":"))},
				Body: `{"userId":` + jsonString(userID) + `,"anonymousId":` + jsonString(anonID) +
					`,"event":"{{event.type}}","properties":"{{payload}}","timestamp":"{{event.timestamp}}","messageId":"{{event.id}}","context":{"library":{"name":"herald"}}}`,
			}
		},
	},
}

// marketoInput maps immdio Forms' lead fields to Marketo's.
const marketoInput = `{"email":"{{email}}","firstName":"{{firstName}}","lastName":"{{lastName}}",` +
	`"company":"{{company}}","phone":"{{tel}}","mobilePhone":"{{mobile}}","postalCode":"{{zip}}","address":"{{address}}",` +
	`"department":"{{department}}","title":"{{position}}","website":"{{web}}"}`

func marketoBase(o map[string]string) string {
	if b := strings.TrimRight(o["base_url"], "/"); b != "" {
		return b
	}
	return "https://" + o["munchkin_id"] + ".mktorest.com"
}

// PresetAuth returns the authentication a preset needs (Marketo's OAuth2),
// or nil; the endpoint's own auth, when set, wins.
func PresetAuth(ep *herald.Endpoint) *herald.EndpointAuth {
	if ep.Preset != "marketo" {
		return nil
	}
	o := ep.PresetOptions
	return &herald.EndpointAuth{Type: "oauth2_client_credentials", TokenURL: marketoBase(o) + "/identity/oauth/token",
		ClientID: o["client_id"], ClientSecret: o["client_secret"]}
}

// PresetNames lists the presets in a stable order, for error messages.
func PresetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// checkOptions refuses unknown options and missing required ones.
func (p *Preset) checkOptions(o map[string]string) error {
	for k := range o {
		if !slices.ContainsFunc(p.Options, func(x Option) bool { return x.Name == k }) {
			names := make([]string, len(p.Options))
			for i, x := range p.Options {
				names[i] = x.Name
			}
			if len(names) == 0 {
				return &FieldError{Field: "preset_options." + k, Msg: fmt.Sprintf("preset %s takes no options", p.Name)}
			}
			return &FieldError{Field: "preset_options." + k, Msg: fmt.Sprintf("preset %s has no option %q; it takes: %s", p.Name, k, strings.Join(names, ", "))}
		}
	}
	for _, x := range p.Options {
		if x.Required && strings.TrimSpace(o[x.Name]) == "" {
			return &FieldError{Field: "preset_options." + x.Name, Msg: fmt.Sprintf("preset %s needs preset_options.%s: %s", p.Name, x.Name, x.Doc)}
		}
	}
	if p.Name == "chatwork" && strings.ContainsAny(o["room_id"], "/?#") {
		return &FieldError{Field: "preset_options.room_id", Msg: "room_id must be a room number (or a template tag), without / ? or #"}
	}
	return nil
}

// SecretOption reports whether a preset's option is a secret to mask.
func SecretOption(preset, name string) bool {
	p := Presets[preset]
	if p == nil {
		return false
	}
	for _, o := range p.Options {
		if o.Name == name {
			return o.Secret
		}
	}
	return false
}
