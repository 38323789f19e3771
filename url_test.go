package herald_test

import (
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
