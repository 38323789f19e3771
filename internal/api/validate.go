package api

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Input limits. Generous for real use, small enough that no field can be
// used to bloat the store.
const (
	maxNameLen        = 200
	maxDescriptionLen = 4096
	maxURLLen         = 2048
	maxEventTypes     = 500
	maxIdemKeyLen     = 256
	maxTimeoutMS      = 120_000
)

var (
	eventTypeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/\-]*$`)
	uidRE           = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)
)

// ValidateURL applies Herald's rules for endpoint URLs: http or https, a
// host, a port from 0 to 65535, and no user:password part (credentials in
// URLs end up in logs; Herald has headers for them).
func ValidateURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("url is required")
	}
	if len(raw) > maxURLLen {
		return fmt.Errorf("url is longer than %d characters", maxURLLen)
	}
	if strings.TrimSpace(raw) != raw {
		return fmt.Errorf("url must not start or end with spaces")
	}
	u, err := url.Parse(raw)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		if strings.Contains(err.Error(), "invalid port") {
			return fmt.Errorf("url has an invalid port: it must be a number from 0 to 65535")
		}
		return fmt.Errorf("url is not a valid URL: %v", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return fmt.Errorf("url must start with http:// or https://")
	default:
		return fmt.Errorf("url scheme %q is not allowed: it must start with http:// or https://", u.Scheme)
	}
	if u.Opaque != "" || !strings.HasPrefix(raw[len(u.Scheme):], "://") {
		return fmt.Errorf("url must start with http:// or https://")
	}
	if u.User != nil {
		return fmt.Errorf("url must not contain a user name or password; put credentials in a header")
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("url has no host")
	}
	if strings.HasPrefix(u.Host, "[") && net.ParseIP(host) == nil {
		return fmt.Errorf("url host %q is not a valid IPv6 address", host)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("url port %s is out of range: it must be from 0 to 65535", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("url has an empty port after the colon")
	}
	return nil
}

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
