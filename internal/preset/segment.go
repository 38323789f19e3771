package preset

import (
	"encoding/base64"

	"github.com/heraldhq/herald"
)

// segment makes a track call through Segment's HTTP API.
var segment = &Preset{
	Name: "segment",
	Doc:  "Segment: a track call through Segment's HTTP API; no url needed",
	Options: []Option{
		{Name: "write_key", Required: true, Doc: "the source's write key, sent with HTTP Basic auth"},
		{Name: "user_id", Doc: "the userId, a template; default {{user_id}}"},
		{Name: "anonymous_id", Doc: "the anonymousId, a template; default {{app.id}}"},
	},
	request: func(o map[string]string) Request {
		userID, anonID := o["user_id"], o["anonymous_id"]
		if userID == "" {
			userID = "{{user_id}}"
		}
		if anonID == "" {
			anonID = "{{app.id}}"
		}
		return Request{
			URL:         "https://api.segment.io/v1/track",
			Method:      "POST",
			ContentType: herald.ContentJSON,
			Headers:     map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(o["write_key"]+":"))},
			Body: `{"userId":` + jsonString(userID) + `,"anonymousId":` + jsonString(anonID) +
				`,"event":"{{event.type}}","properties":"{{payload}}","timestamp":"{{event.timestamp}}","messageId":"{{event.id}}","context":{"library":{"name":"herald"}}}`,
		}
	},
}
