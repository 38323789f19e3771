package broker

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
	"github.com/heraldhq/herald/internal/shape"
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

// wantFieldError checks what a kind's Check said: nothing when field is
// empty, else a *shape.FieldError naming field, which it returns for the
// caller's own checks of the message (nil for a good destination).
func wantFieldError(t *testing.T, err error, field string) *shape.FieldError {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("Check refused a good destination: %v", err)
		}
		return nil
	}
	fe, ok := errors.AsType[*shape.FieldError](err)
	if !ok {
		t.Fatalf("Check = %v (%T), want a *shape.FieldError on %s", err, err, field)
	}
	if fe.Field != field {
		t.Fatalf("Check named %s (%s), want %s", fe.Field, fe.Msg, field)
	}
	return fe
}
