package herald_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

func TestValidateURL(t *testing.T) {
	t.Parallel()
	ok := []string{"http://example.com", "https://example.com:443/a?b=c", "http://example.com:0/", "http://example.com:65535", "http://[::1]:8080/", "HTTPS://EXAMPLE.COM/", "http://例え.jp/", "http://my_host.local:8080/"}
	bad := []string{"", "example.com", "http://example.com:65536", "http://example.com:99999999", "http://example.com:-1", "mailto:a@b.c", "http:example.com", "http://", "http://u@example.com", " http://example.com", "http://example.com:/", "http://[zz]/", "http://bad%20host/", "http://a%2Fb/"}
	for _, u := range ok {
		if err := herald.ValidateURL(u); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
	for _, u := range bad {
		if err := herald.ValidateURL(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

// FuzzValidateURL: never panics, and what it accepts is an http(s) URL
// with a host and a port in range.
func FuzzValidateURL(f *testing.F) {
	f.Add("https://example.com/hook")  // the usual
	f.Add("http://example.com:65536")  // a port out of range (immdio's example)
	f.Add("http://u:p@example.com/")   // credentials
	f.Add("http://[::1]:8080/x?y=z#f") // IPv6 with everything
	f.Add("javascript:alert(1)")       // another scheme
	f.Add("http://例え.jp/パス")           // unicode host and path
	f.Fuzz(func(t *testing.T, s string) {
		if herald.ValidateURL(s) != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("accepted %q that does not parse: %v", s, err)
		}
		if sc := strings.ToLower(u.Scheme); sc != "http" && sc != "https" {
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
		if u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q", s)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
				t.Fatalf("accepted port %q", p)
			}
		}
	})
}
