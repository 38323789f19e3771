package preset

import (
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
	teams   = incomingWebhook("teams", "Microsoft Teams incoming webhook: give its URL as the endpoint url", "text", teamsMessage)
)

// chatwork posts a message to a room through Chatwork's API.
var chatwork = &Preset{
	Name: "chatwork",
	Doc:  "Chatwork: posts a message to a room through Chatwork's API; no url needed",
	Options: []Option{
		{Name: "room_id", Required: true, Doc: "the room to post to (may hold template tags)"},
		{Name: "api_token", Required: true, Doc: "a Chatwork API token, sent as X-ChatWorkToken"},
		messageOption,
	},
	request: func(o map[string]string) Request {
		return Request{
			URL:         "https://api.chatwork.com/v2/rooms/" + o["room_id"] + "/messages",
			Method:      "POST",
			ContentType: herald.ContentForm,
			Headers:     map[string]string{"X-ChatWorkToken": o["api_token"]},
			Body:        `{"body":` + jsonString(message(o, chatworkMessage)) + `}`,
		}
	},
	check: func(o map[string]string) error {
		if strings.ContainsAny(o["room_id"], "/?#") {
			return &OptionError{Option: "room_id", Msg: "room_id must be a room number (or a template tag), without / ? or #"}
		}
		return nil
	},
}
