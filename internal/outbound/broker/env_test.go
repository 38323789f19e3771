package broker

import (
	"context"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/outbound"
)

// testEnv is what the clients under test get: plain dials (the
// destination policy is tested where it is wired, with the kinds).
func testEnv() outbound.Env {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return outbound.Env{
		Dial:    d.DialContext,
		HTTP:    &http.Client{Transport: &http.Transport{DialContext: d.DialContext}},
		Timeout: 5 * time.Second,
	}
}

// needService returns the address of a broker this machine runs on
// loopback. Outside CI a test without it skips; in CI (HERALD_CI set, as
// .ci/run does) it fails, since every broker must be there.
func needService(t *testing.T, name, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("HERALD_CI") != "" {
			t.Fatalf("%s is not running on %s: %v", name, addr, err)
		}
		t.Skipf("%s is not running on %s: %v", name, addr, err)
	}
	c.Close()
	return addr
}

// testCtx is a context that ends with the test, at most a minute on.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
