package herald

import (
	"net/url"
	"strings"
)

// Field returns the Destination field of a JSON name that may hold
// template tags (one of DestinationTemplates), nil for any other name.
func (d *Destination) Field(name string) *string {
	switch name {
	case "subject":
		return &d.Subject
	case "stream":
		return &d.Stream
	case "routing_key":
		return &d.RoutingKey
	case "topic":
		return &d.Topic
	case "key":
		return &d.Key
	case "ordering_key":
		return &d.OrderingKey
	case "message_group_id":
		return &d.MessageGroupID
	case "deduplication_id":
		return &d.DeduplicationID
	}
	return nil
}

// Clone returns a copy of d that shares nothing with it.
func (d *Destination) Clone() *Destination {
	if d == nil {
		return nil
	}
	c := *d
	c.Brokers = append([]string(nil), d.Brokers...)
	if d.Brokers == nil {
		c.Brokers = nil
	}
	return &c
}

// secrets lists the destination's secret fields by JSON name.
func (d *Destination) secrets() []struct {
	name string
	v    *string
} {
	return []struct {
		name string
		v    *string
	}{{"password", &d.Password}, {"credentials_json", &d.CredentialsJSON}, {"secret_access_key", &d.SecretAccessKey}}
}

// Masked returns a copy of d with its credentials replaced by Masked: the
// secret fields, and the password inside URL.
func (d *Destination) Masked() *Destination {
	if d == nil {
		return nil
	}
	c := d.Clone()
	for _, s := range c.secrets() {
		if *s.v != "" {
			*s.v = Masked
		}
	}
	c.URL = MaskURLPassword(c.URL)
	return c
}

// KeepMasked puts back, into d as a client sent it, each credential of
// stored the client sent as the API showed it (Masked), so that a client
// may send back what it read and change only what it retyped. A URL whose
// password is Masked keeps the stored URL's password.
func (d *Destination) KeepMasked(stored *Destination) {
	if d == nil || stored == nil {
		return
	}
	theirs := stored.secrets()
	for i, s := range d.secrets() {
		if *s.v == Masked {
			*s.v = *theirs[i].v
		}
	}
	mine, theirsURLs := urlList(d.URL), urlList(stored.URL)
	changed := false
	for i, raw := range mine {
		u, err := url.Parse(raw)
		if err != nil || u.User == nil || i >= len(theirsURLs) {
			continue
		}
		if p, ok := u.User.Password(); !ok || p != Masked {
			continue
		}
		old, err := url.Parse(theirsURLs[i])
		if err != nil || old.User == nil {
			continue
		}
		if p, ok := old.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), p)
			mine[i], changed = u.String(), true
		}
	}
	if changed {
		d.URL = strings.Join(mine, ",")
	}
}

// urlList splits an address that lists several servers
// ("nats://a:4222,nats://b:4222") into its URLs.
func urlList(raw string) []string {
	if strings.Count(raw, "://") < 2 {
		return []string{raw}
	}
	return strings.Split(raw, ",")
}

// Secrets returns the destination's credentials in clear (the secret
// fields and the URL's password, as written and as escaped), for
// scrubbing them from error messages.
func (d *Destination) Secrets() []string {
	if d == nil {
		return nil
	}
	var out []string
	for _, s := range d.secrets() {
		if *s.v != "" {
			out = append(out, *s.v)
		}
	}
	for _, raw := range urlList(d.URL) {
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok && p != "" {
				out = append(out, p, url.QueryEscape(p), url.PathEscape(p), u.User.String())
			}
		}
	}
	return out
}

// MaskURLPassword replaces the password of a URL's userinfo by Masked; a
// URL without one, or not a URL, is returned as it is (a string that
// cannot be parsed has any "user:password@" part masked by hand).
func MaskURLPassword(raw string) string {
	if raw == "" {
		return raw
	}
	if parts := urlList(raw); len(parts) > 1 {
		for i, p := range parts {
			parts[i] = MaskURLPassword(p)
		}
		return strings.Join(parts, ",")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Keep no part that could be a password.
		if at := strings.LastIndex(raw, "@"); at >= 0 {
			if i := strings.Index(raw, "://"); i >= 0 && i < at {
				return raw[:i+3] + Masked + raw[at:]
			}
			return Masked + raw[at:]
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	// Built by hand: url.UserPassword would escape the mask's asterisks.
	name := url.User(u.User.Username()).String()
	u.User = nil
	s := u.String()
	if i := strings.Index(s, "://"); i >= 0 {
		return s[:i+3] + name + ":" + Masked + "@" + s[i+3:]
	}
	return Masked
}
