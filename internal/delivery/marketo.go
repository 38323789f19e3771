package delivery

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Marketo's REST API answers HTTP 200 even when a call failed; the body
// says so with "success": false and error codes.
type marketoVerdict int

const (
	marketoOK marketoVerdict = iota
	// marketoTokenError: 601 access token invalid, 602 expired.
	marketoTokenError
	// marketoRetry: 606 rate limit, 615 concurrency limit, 607 daily
	// quota, 604 timed out, 608 temporarily unavailable.
	marketoRetry
	// marketoFinal: any other error (a bad field, a bad request).
	marketoFinal
)

// marketoOutcome reads a Marketo answer.
func marketoOutcome(body []byte) (marketoVerdict, string) {
	var r struct {
		Success *bool `json:"success"`
		Errors  []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
		Result []struct {
			Status  string `json:"status"`
			Reasons []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"reasons"`
		} `json:"result"`
	}
	if json.Unmarshal(body, &r) != nil || r.Success == nil {
		return marketoFinal, "Marketo answered something that is not its API's JSON"
	}
	if *r.Success {
		// A lead may still be skipped (a bad field): that is final.
		for _, res := range r.Result {
			if res.Status == "skipped" && len(res.Reasons) > 0 {
				return marketoFinal, fmt.Sprintf("Marketo skipped the lead: %s %s", res.Reasons[0].Code, res.Reasons[0].Message)
			}
		}
		return marketoOK, ""
	}
	var msgs []string
	verdict := marketoFinal
	for _, e := range r.Errors {
		msgs = append(msgs, e.Code+" "+e.Message)
		switch e.Code {
		case "601", "602":
			verdict = marketoTokenError
		case "604", "606", "607", "608", "615":
			if verdict != marketoTokenError {
				verdict = marketoRetry
			}
		}
	}
	if len(msgs) == 0 {
		msgs = []string{"success false without errors"}
	}
	return verdict, "Marketo error: " + strings.Join(msgs, "; ")
}
