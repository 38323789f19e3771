package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
)

// audit records a change of configuration. A failure to record is logged,
// not returned: the change itself is already committed.
func (s *Server) audit(r *http.Request, appID, action, target string, changes any) {
	s.auditMasked(r, appID, action, target, changes, nil)
}

// auditEndpoint records a change of an endpoint, its header values masked
// but those the endpoint (as saved) shows in clear.
func (s *Server) auditEndpoint(r *http.Request, ep *herald.Endpoint, action string, in endpointInput) {
	s.auditMasked(r, ep.AppID, action, ep.ID, in, ep.PlainHeaders)
}

func (s *Server) auditMasked(r *http.Request, appID, action, target string, changes any, plainHeaders []string) {
	e := &herald.AuditEntry{
		ID: herald.NewID("aud_"), At: s.o.Now().UTC(), KeyID: principalOf(r).keyID,
		AppID: appID, Action: action, Target: target,
	}
	if changes != nil {
		b, err := json.Marshal(changes)
		if err == nil {
			e.Changes = maskJSON(b, plainHeaders)
		}
	}
	if err := s.st.AuditAppend(r.Context(), e); err != nil {
		s.log.Error("audit log append failed", "action", action, "target", target, "error", err.Error())
	}
}

// maskJSON hides secrets in a change record: fields named like
// credentials, secret preset options, and every header value but those
// plainHeaders names.
func maskJSON(b []byte, plainHeaders []string) herald.RawJSON {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	v = maskValue("", v, plainHeaders)
	out, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return out
}

func maskValue(key string, v any, plainHeaders []string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if s, ok := x.(string); ok && (key == "headers" && !herald.PlainHeader(k, plainHeaders) || key == "preset_options" && herald.SecretOption(k)) {
				t[k] = herald.Mask(s)
				continue
			}
			t[k] = maskValue(k, x, plainHeaders)
		}
		return t
	case string:
		k := strings.ToLower(key)
		if k == "secret" || k == "api_token" || k == "write_key" || k == "password" || k == "client_secret" || k == "token" || k == "tls_client_key" || k == "auth" ||
			k == "credentials_json" || k == "secret_access_key" {
			return herald.Mask(t)
		}
		if k == "url" || k == "endpoint" || k == "queue_url" {
			// A broker's address may carry its password.
			return herald.MaskURLPassword(t)
		}
		return t
	default:
		return v
	}
}

// listAudit answers GET /v1/audit-log and GET /v1/apps/{app}/audit-log.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) *Error {
	appID := ""
	if r.PathValue("app") != "" {
		a, e := s.app(r)
		if e != nil {
			return e
		}
		appID = a.ID
	}
	p, e := listParams(r)
	if e != nil {
		return e
	}
	pg, err := fetchPage(p, func(p store.ListParams) ([]*herald.AuditEntry, error) { return s.st.AuditList(r.Context(), appID, p) },
		func(a *herald.AuditEntry) string { return a.ID })
	if err != nil {
		return storeError(err, "audit log")
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

// announceEndpoint tells the app's operational webhook that one of its
// endpoints was created, changed (in: the fields the request set) or
// deleted. The operational endpoint itself is not announced.
func (s *Server) announceEndpoint(r *http.Request, eventType string, ep *herald.Endpoint, in *endpointInput) {
	if ep.Operational {
		return
	}
	p := map[string]any{"endpoint_id": ep.ID, "app_id": ep.AppID, "url": ep.URL, "description": ep.Description,
		"event_types": ep.EventTypes, "enabled": ep.Enabled}
	if k := principalOf(r).keyID; k != "" {
		p["key_id"] = k // the API key or portal session that made the change
	}
	if p["event_types"] == nil {
		p["event_types"] = []string{}
	}
	if in != nil && eventType == delivery.EventEndpointUpdated {
		changed := []string{}
		if b, err := json.Marshal(in); err == nil {
			var fields map[string]json.RawMessage
			if json.Unmarshal(b, &fields) == nil {
				for k, v := range fields {
					if string(v) != "null" {
						changed = append(changed, k)
					}
				}
			}
		}
		slices.Sort(changed)
		p["changed"] = changed
	}
	s.eng.Announce(r.Context(), ep.AppID, eventType, p)
}
