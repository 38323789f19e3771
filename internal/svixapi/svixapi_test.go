package svixapi_test

import (
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// svixError is the body of Svix's errors but 422.
type svixError struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func TestHealthAndUnknownRoutes(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	if got := s.DoWith("GET", "/api/v1/health", nil, nil, nil); got != http.StatusNoContent {
		t.Fatalf("GET /api/v1/health without a token: %d, want 204", got)
	}
	var e svixError
	if got := s.Do("GET", "/api/v1/no-such-thing", nil, &e); got != http.StatusNotFound || e.Code != "not_found" || e.Detail == "" {
		t.Fatalf("unknown route: %d %+v, want 404 with code not_found and a detail", got, e)
	}
}
