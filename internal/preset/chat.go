package preset

import (
	"fmt"
	"strings"

	"github.com/heraldhq/herald"
)

// Default message texts: what happened, for which customer, and the data.
// Each chat preset's option "message" replaces it with the customer's
// template.
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

// incomingWebhook is a chat service's incoming webhook: a JSON object
// whose one field holds the message.
func incomingWebhook(name, doc, field, def string) *Preset {
	return &Preset{
		Name:    name,
		Doc:     doc,
		Options: []Option{messageOption},
		request: func(o map[string]string) Request {
			return Request{Method: "POST", ContentType: herald.ContentJSON, Body: `{"` + field + `":` + jsonString(message(o, def)) + `}`}
		},
	}
}

var (
	slack   = incomingWebhook("slack", "Slack incoming webhook: give its URL as the endpoint url", "text", slackMessage)
	discord = incomingWebhook("discord", "Discord webhook: give its URL as the endpoint url", "content", discordMessage)
)

// teams posts to a Microsoft Teams webhook. A Workflows webhook (the kind
// Teams creates today) takes a message holding an Adaptive Card; the
// retired Office 365 connector's {"text": …} stays available as
// format "connector" for webhooks that still take it.
var teams = &Preset{
	Name: "teams",
	Doc:  "Microsoft Teams webhook (Workflows): give its URL as the endpoint url",
	Options: []Option{
		messageOption,
		{Name: "format", Doc: `"adaptive_card" (default): a message with an Adaptive Card, for a Workflows webhook; "connector": {"text": message}, for an Office 365 connector webhook`},
	},
	request: func(o map[string]string) Request {
		msg := jsonString(message(o, teamsMessage))
		if o["format"] == "connector" {
			return Request{Method: "POST", ContentType: herald.ContentJSON, Body: `{"text":` + msg + `}`}
		}
		return Request{Method: "POST", ContentType: herald.ContentJSON, Body: `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,` +
			`"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4",` +
			`"body":[{"type":"TextBlock","text":` + msg + `,"wrap":true}]}}]}`}
	},
	check: func(o map[string]string) error {
		switch o["format"] {
		case "", "adaptive_card", "connector":
			return nil
		}
		return &OptionError{Option: "format", Msg: fmt.Sprintf("format %q is not adaptive_card or connector", o["format"])}
	},
}

// chatwork posts a message to a room through Chatwork's API.
var chatwork = &Preset{
	Name: "chatwork",
	Doc:  "Chatwork: posts a message to a room through Chatwork's API; no url needed",
	Options: []Option{
		{Name: "room_id", Required: true, Doc: "the room to post to (may hold template tags)"},
		{Name: "api_token", Required: true, Doc: "a Chatwork API token, sent as X-ChatWorkToken"},
		messageOption,
		{Name: "self_unread", Doc: `"1": the message stays unread for the token's own account; "0" (Chatwork's default): read`},
	},
	request: func(o map[string]string) Request {
		body := `{"body":` + jsonString(message(o, chatworkMessage))
		if u := o["self_unread"]; u != "" {
			body += `,"self_unread":` + jsonString(u)
		}
		return Request{
			URL:         "https://api.chatwork.com/v2/rooms/" + o["room_id"] + "/messages",
			Method:      "POST",
			ContentType: herald.ContentForm,
			Headers:     map[string]string{"X-ChatWorkToken": o["api_token"]},
			Body:        body + `}`,
		}
	},
	check: func(o map[string]string) error {
		if strings.ContainsAny(o["room_id"], "/?#") {
			return &OptionError{Option: "room_id", Msg: "room_id must be a room number (or a template tag), without / ? or #"}
		}
		switch o["self_unread"] {
		case "", "0", "1":
		default:
			return &OptionError{Option: "self_unread", Msg: fmt.Sprintf("self_unread %q is not 0 or 1", o["self_unread"])}
		}
		return nil
	},
}
