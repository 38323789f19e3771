package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

var tokenCases = []testCase{
	{"Token/get_put", testTokenGetPut},
}

func testTokenGetPut(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, _, err := s.TokenGet(ctx, "k1")
	wantErr(t, err, store.ErrNotFound, "TokenGet before any put")
	exp := at(time.Hour)
	noErr(t, s.TokenPut(ctx, "k1", "tok-a", exp), "TokenPut")
	tok, got, err := s.TokenGet(ctx, "k1")
	noErr(t, err, "TokenGet")
	if tok != "tok-a" || !got.Equal(exp.Truncate(time.Microsecond)) {
		t.Fatalf("got %q %v, want tok-a %v", tok, got, exp)
	}
	noErr(t, s.TokenPut(ctx, "k1", "tok-b", exp.Add(time.Hour)), "TokenPut again")
	if tok, _, _ := s.TokenGet(ctx, "k1"); tok != "tok-b" {
		t.Fatalf("replaced token %q", tok)
	}
}
