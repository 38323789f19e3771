package herald

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// MaxURLLen caps endpoint URLs.
const MaxURLLen = 2048

// ValidateURL applies Herald's rules for endpoint URLs: http or https, a
// host, a port from 0 to 65535, and no user:password part (credentials in
// URLs end up in logs; Herald has headers for them).
func ValidateURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("url is required")
	}
	if len(raw) > MaxURLLen {
		return fmt.Errorf("url is longer than %d characters", MaxURLLen)
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
	if net.ParseIP(host) == nil {
		for _, r := range host {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r > 127) {
				return fmt.Errorf("url host %q is not a valid host name", host)
			}
		}
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
