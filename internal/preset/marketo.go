package preset

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/heraldhq/herald"
)

// marketo creates or updates leads through Marketo's REST API, with
// OAuth2 client credentials against the instance's identity endpoint.
var marketo = &Preset{
	Name: "marketo",
	Doc:  "Marketo: createOrUpdate leads through Marketo's REST API, with OAuth2 against its identity endpoint; no url needed",
	Options: []Option{
		{Name: "munchkin_id", Required: true, Doc: "the instance's Munchkin id (e.g. 123-ABC-456)"},
		{Name: "client_id", Required: true, Doc: "a LaunchPoint service's client id"},
		{Name: "client_secret", Required: true, Doc: "that service's client secret"},
		{Name: "lookup_field", Doc: "the field that finds an existing lead; default email"},
		{Name: "input", Doc: "the lead record, a JSON template; default: immdio's lead fields mapped to Marketo's"},
		{Name: "name_field", Doc: "where the default input puts immdio's single name field when the lead has no own value there: lastName (default), firstName or none"},
		{Name: "base_url", Doc: "the instance's REST base; default https://<munchkin_id>.mktorest.com"},
	},
	request: func(o map[string]string) Request {
		input := o["input"]
		if input == "" {
			input = marketoDefaultInput(o["name_field"])
		}
		lookup := o["lookup_field"]
		if lookup == "" {
			lookup = "email"
		}
		return Request{
			URL:         marketoBase(o) + "/rest/v1/leads.json",
			URLFrom:     marketoBaseFrom(o),
			Method:      "POST",
			ContentType: herald.ContentJSON,
			Body:        `{"action":"createOrUpdate","lookupField":` + jsonString(lookup) + `,"input":[` + input + `]}`,
			Batch: &BatchRequest{
				Element: input,
				Body:    `{"action":"createOrUpdate","lookupField":` + jsonString(lookup) + `,"input":"{{batch.events}}"}`,
			},
		}
	},
	auth: func(o map[string]string) *herald.EndpointAuth {
		return &herald.EndpointAuth{Type: "oauth2_client_credentials", TokenURL: marketoBase(o) + "/identity/oauth/token",
			ClientID: o["client_id"], ClientSecret: o["client_secret"]}
	},
	answer: marketoAnswer,
	check:  marketoCheck,
	// Marketo takes up to 300 leads per call: what is due goes together,
	// with no added wait.
	batch:       &herald.BatchSettings{MaxEvents: MarketoMaxLeads},
	batchAnswer: marketoBatchAnswer,
}

// MarketoMaxLeads is the most leads Marketo takes in one createOrUpdate.
const MarketoMaxLeads = 300

// munchkinRE is the form of Marketo's Munchkin ids (123-ABC-456). The id
// becomes the host of every URL the preset dials, so anything else (a
// "127.0.0.1:8080/#" would send the lead and the client secret to that
// address) is refused.
var munchkinRE = regexp.MustCompile(`^[0-9]{3}-[A-Za-z]{3}-[0-9]{3}$`)

func marketoCheck(o map[string]string) error {
	if !munchkinRE.MatchString(o["munchkin_id"]) {
		return &OptionError{Option: "munchkin_id", Msg: "munchkin_id must be a Munchkin id such as 123-ABC-456 (Admin > Munchkin in Marketo)"}
	}
	if b := o["base_url"]; b != "" {
		if err := herald.ValidateURL(b); err != nil {
			return &OptionError{Option: "base_url", Msg: "base_url: " + err.Error()}
		}
		if strings.ContainsAny(b, "?#") {
			return &OptionError{Option: "base_url", Msg: "base_url must be the instance's REST base, without ? or #"}
		}
	}
	switch o["name_field"] {
	case "", "lastName", "firstName", "none":
	default:
		return &OptionError{Option: "name_field", Msg: "name_field must be lastName, firstName or none"}
	}
	if o["name_field"] != "" && o["input"] != "" {
		return &OptionError{Option: "name_field", Msg: `name_field shapes the default input only; with input, map the name yourself, e.g. "lastName": "{{lastName | or:\"name\"}}"`}
	}
	return nil
}

// marketoDefaultInput maps immdio Forms' lead fields to Marketo's. A
// form with immdio's single name field sends "name" only: it fills
// nameField (lastName unless told otherwise; Marketo's lastName is the
// one its lead lists show), and a lead's own firstName or lastName wins.
func marketoDefaultInput(nameField string) string {
	first, last := `{{firstName}}`, `{{lastName}}`
	switch nameField {
	case "", "lastName":
		last = `{{lastName | or:\"name\"}}`
	case "firstName":
		first = `{{firstName | or:\"name\"}}`
	}
	return `{"email":"{{email}}","firstName":"` + first + `","lastName":"` + last + `",` +
		`"company":"{{company}}","phone":"{{tel}}","mobilePhone":"{{mobile}}","postalCode":"{{zip}}","address":"{{address}}",` +
		`"department":"{{department}}","title":"{{position}}","website":"{{web}}"}`
}

// marketoBaseFrom names the option marketoBase builds on.
func marketoBaseFrom(o map[string]string) string {
	if strings.TrimRight(o["base_url"], "/") != "" {
		return "base_url"
	}
	return "munchkin_id"
}

func marketoBase(o map[string]string) string {
	if b := strings.TrimRight(o["base_url"], "/"); b != "" {
		return b
	}
	return "https://" + o["munchkin_id"] + ".mktorest.com"
}

// marketoAnswer reads a Marketo answer: its REST API answers HTTP 200 even
// when a call failed, and says so with "success": false and error codes.
// 601 (access token invalid) and 602 (expired) ask for a new token; 604
// (timed out), 606 (rate limit), 607 (daily quota), 608 (temporarily
// unavailable) and 615 (concurrency limit) are worth a retry; any other
// error, or a lead skipped for a bad field, is final.
func marketoAnswer(body []byte) (Verdict, string) {
	r, v, msg := readMarketo(body)
	if v != OK {
		return v, msg
	}
	// A lead may still be skipped (a bad field): that is final.
	for _, res := range r.Result {
		if v, msg := res.verdict(); v != OK {
			return v, msg
		}
	}
	return OK, ""
}

// marketoBatchAnswer reads Marketo's answer to n leads in one call: a
// failed call (601/602 token, 606 rate…) is every lead's, as for one
// lead; a call that went through has one result per lead, by its seq
// (its index in input), read as marketoAnswer reads one lead's. A lead
// without a result is retried.
func marketoBatchAnswer(body []byte, n int) (Verdict, string, []Result) {
	r, v, msg := readMarketo(body)
	if v != OK {
		return v, msg, nil
	}
	results := make([]Result, n)
	seen := make([]bool, n)
	for i, res := range r.Result {
		seq := i
		if res.Seq != nil {
			seq = *res.Seq
		}
		if seq < 0 || seq >= n || seen[seq] {
			continue
		}
		seen[seq] = true
		results[seq].Verdict, results[seq].Msg = res.verdict()
	}
	for i, ok := range seen {
		if !ok {
			results[i] = Result{Verdict: Retry, Msg: fmt.Sprintf("Marketo's answer has no result for lead %d of the %d sent (seq %d)", i+1, n, i)}
		}
	}
	return OK, "", results
}

// marketoLead is Marketo's result for one lead of a call.
type marketoLead struct {
	Seq     *int   `json:"seq"`
	Status  string `json:"status"`
	Reasons []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"reasons"`
}

// verdict is what a lead's result means: skipped for a reason is final,
// anything else (created, updated) went through.
func (l *marketoLead) verdict() (Verdict, string) {
	if l.Status == "skipped" && len(l.Reasons) > 0 {
		return Final, fmt.Sprintf("Marketo skipped the lead: %s %s", l.Reasons[0].Code, l.Reasons[0].Message)
	}
	return OK, ""
}

// marketoCall is a Marketo answer.
type marketoCall struct {
	Success *bool `json:"success"`
	Errors  []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result []marketoLead `json:"result"`
}

// readMarketo reads a Marketo answer and the verdict of the call as a
// whole (OK when success is true, whatever its leads' results).
func readMarketo(body []byte) (marketoCall, Verdict, string) {
	var r marketoCall
	if json.Unmarshal(body, &r) != nil || r.Success == nil {
		return r, Final, "Marketo answered something that is not its API's JSON"
	}
	if *r.Success {
		return r, OK, ""
	}
	var msgs []string
	verdict := Final
	for _, e := range r.Errors {
		msgs = append(msgs, e.Code+" "+e.Message)
		switch e.Code {
		case "601", "602":
			verdict = TokenRejected
		case "604", "606", "607", "608", "615":
			if verdict != TokenRejected {
				verdict = Retry
			}
		}
	}
	if len(msgs) == 0 {
		msgs = []string{"success false without errors"}
	}
	return r, verdict, "Marketo error: " + strings.Join(msgs, "; ")
}
