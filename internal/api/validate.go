package api

import (
	"regexp"
	"strings"
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
