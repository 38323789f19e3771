package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// dropper is a transport whose test can cut the connection of the last
// answer, as a network would.
type dropper struct {
	mu   sync.Mutex
	last io.Closer
}

func (d *dropper) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		d.mu.Lock()
		d.last = res.Body
		d.mu.Unlock()
	}
	return res, err
}

func (d *dropper) drop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	_ = d.last.Close()
}

// TestFollowAttempts: the stream shows a failed attempt then its
// successful retry; when the connection drops, it reconnects and goes on
// after the last attempt, repeating none; a bad filter ends it with an
// *APIError.
func TestFollowAttempts(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(500)
		}
	})
	s.Setup(rc.URL, nil)
	d := &dropper{}
	h, err := client.NewWithOptions(s.URL, heraldtest.Token, client.Options{HTTPClient: &http.Client{Transport: d}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	got := make(chan client.StreamedAttempt)
	go func() {
		defer close(got)
		for a, err := range h.FollowAttempts(ctx, "acme", client.FollowParams{}) {
			if err != nil {
				t.Errorf("FollowAttempts: %v", err)
				return
			}
			got <- a
		}
	}()
	next := func() client.StreamedAttempt {
		t.Helper()
		select {
		case a, ok := <-got:
			if !ok {
				t.Fatal("the stream ended")
			}
			return a
		case <-ctx.Done():
			t.Fatal("no attempt in time")
		}
		return client.StreamedAttempt{}
	}

	// Sent once the stream is open: the server's first lines come back
	// before any attempt.
	waitOpen(t, d)
	evt := s.Send(map[string]any{"n": 1})
	first, second := next(), next()
	if first.EventID != evt || first.Attempt != 1 || first.StatusCode == nil || *first.StatusCode != 500 || first.DeliveryStatus != client.DeliveryStatusPending {
		t.Errorf("first attempt: %+v", first)
	}
	if second.Attempt != 2 || second.StatusCode == nil || *second.StatusCode != 200 || second.DeliveryStatus != client.DeliveryStatusSucceeded || second.Cursor == "" {
		t.Errorf("second attempt: %+v", second)
	}

	d.drop()
	evt2 := s.Send(map[string]any{"n": 2})
	if a := next(); a.EventID != evt2 || a.Attempt != 1 {
		t.Errorf("after the drop: %+v, want the new event's first attempt", a)
	}
	cancel()
	for range got {
	}

	var apiErr *client.APIError
	for _, err := range h.FollowAttempts(t.Context(), "acme", client.FollowParams{Status: "nope"}) {
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Field != "status" {
			t.Errorf("bad status: %v", err)
		}
	}
}

// waitOpen waits until the transport has an answer open.
func waitOpen(t *testing.T, d *dropper) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.mu.Lock()
		open := d.last != nil
		d.mu.Unlock()
		if open || time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
