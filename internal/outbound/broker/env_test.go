package broker

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
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
// loopback (see brokertest.NeedService).
func needService(t *testing.T, name, addr string) string {
	t.Helper()
	return brokertest.NeedService(t, name, addr)
}

// testCtx is a context that ends with the test, at most a minute on.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
