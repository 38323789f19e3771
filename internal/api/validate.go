package api

import (
	"regexp"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
)

// Input limits. Generous for real use, small enough that no field can be
// used to bloat the store.
const (
	maxNameLen        = 200
	maxDescriptionLen = 4096
	maxEventTypes     = 500
	maxIdemKeyLen     = 256
	maxTimeoutMS      = 120_000
	maxInFlightLimit  = 1000
	maxFilterLen      = 4096
	maxRateLimit      = 100_000
)

var (
	eventTypeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/\-]*$`)
	uidRE           = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)
	groupRE         = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$`)
)

func validateEventTypeName(field, name string) *Error {
	if name == "" {
		return errRequired(field)
	}
	if len(name) > maxNameLen {
		return errInvalid(field, "%s is longer than %d characters", field, maxNameLen)
	}
	if !eventTypeNameRE.MatchString(name) {
		return errInvalid(field, "%s %q may hold only letters, digits and _ . : / - and must start with a letter or digit", field, name)
	}
	return nil
}

func validateUID(uid string) *Error {
	if uid == "" {
		return nil
	}
	if len(uid) > maxNameLen {
		return errInvalid("uid", "uid is longer than %d characters", maxNameLen)
	}
	if !uidRE.MatchString(uid) {
		return errInvalid("uid", "uid may hold only letters, digits and _ . - and must start with a letter or digit")
	}
	if strings.HasPrefix(uid, "app_") {
		return errInvalid("uid", "uid must not start with app_, which Herald's own ids use")
	}
	return nil
}

func validateName(field, name string) *Error {
	if strings.TrimSpace(name) == "" {
		return errRequired(field)
	}
	if len(name) > maxNameLen {
		return errInvalid(field, "%s is longer than %d characters", field, maxNameLen)
	}
	return nil
}

func validateDescription(d string) *Error {
	if len(d) > maxDescriptionLen {
		return errInvalid("description", "description is longer than %d characters", maxDescriptionLen)
	}
	return nil
}

// Svix-compatible names: endpoint uids, channels and tags.
var (
	endpointUIDRE = regexp.MustCompile(`^[a-zA-Z0-9\-_.]+$`)
	channelRE     = regexp.MustCompile(`^[a-zA-Z0-9\-_.:]+$`)
	tagRE         = regexp.MustCompile(`^[a-zA-Z0-9\-_./\\#]+$`)
)

// Bounds of the Svix-compatible fields.
const (
	maxEndpointUIDLen = 256
	maxTags           = 5
	maxTagLen         = 128
)

// validateMetadata bounds a tenant's labels (of an app or an endpoint).
func validateMetadata(m map[string]string) *Error {
	if len(m) > herald.MaxMetadataKeys {
		return errInvalid("metadata", "metadata may hold at most %d keys", herald.MaxMetadataKeys)
	}
	for k, v := range m {
		if k == "" || len(k) > herald.MaxMetadataKeyLen {
			return errInvalid("metadata", "metadata keys are 1 to %d bytes long", herald.MaxMetadataKeyLen)
		}
		if len(v) > herald.MaxMetadataValueLen {
			return errInvalid("metadata", "metadata value of %q is longer than %d bytes", k, herald.MaxMetadataValueLen)
		}
	}
	return nil
}

// validateWebhookHeaders checks a signature header set; empty is allowed
// (the level above decides).
func validateWebhookHeaders(v string) *Error {
	switch v {
	case "", herald.WebhookHeadersStandard, herald.WebhookHeadersSvix:
		return nil
	}
	return errInvalid("webhook_headers", "webhook_headers must be standard (webhook-* headers) or svix (svix-* headers)")
}

// validateEndpointUID checks an endpoint's own id; empty clears it.
func validateEndpointUID(uid string) *Error {
	if uid == "" {
		return nil
	}
	if len(uid) > maxEndpointUIDLen {
		return errInvalid("uid", "uid is longer than %d characters", maxEndpointUIDLen)
	}
	if !endpointUIDRE.MatchString(uid) {
		return errInvalid("uid", "uid may hold only letters, digits and - _ .")
	}
	if strings.HasPrefix(uid, herald.PrefixEndpoint) {
		return errInvalid("uid", "uid must not start with %s, which Herald's endpoint ids use", herald.PrefixEndpoint)
	}
	return nil
}

// cleanChannels checks a list of channel names (of an endpoint or an
// event, field names it) and returns it without repeats, never nil.
func cleanChannels(field string, list []string) ([]string, *Error) {
	return cleanNames(field, list, herald.MaxChannels, herald.MaxChannelLen, channelRE, "letters, digits and - _ . :")
}

// cleanTags checks an event's tags and returns them without repeats.
func cleanTags(list []string) ([]string, *Error) {
	return cleanNames("tags", list, maxTags, maxTagLen, tagRE, `letters, digits and - _ . / \ #`)
}

func cleanNames(field string, list []string, maxN, maxLen int, re *regexp.Regexp, allowed string) ([]string, *Error) {
	if len(list) > maxN {
		return nil, errInvalid(field, "%s may list at most %d names", field, maxN)
	}
	out := make([]string, 0, len(list))
	for _, c := range list {
		if c == "" || len(c) > maxLen {
			return nil, errInvalid(field, "each of %s is 1 to %d characters long", field, maxLen)
		}
		if !re.MatchString(c) {
			return nil, errInvalid(field, "%s: %q may hold only %s", field, c, allowed)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}
