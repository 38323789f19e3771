package delivery_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// BenchmarkEndToEnd posts b.N events of 1 KiB through the HTTP API from 64
// concurrent clients to one endpoint and waits until the receiver has them
// all: the whole durable path, ingest to delivery.
func BenchmarkEndToEnd(b *testing.B) {
	var got atomic.Int64
	done := make(chan struct{})
	var want atomic.Int64
	rc := heraldtest.NewReceiver(b, func(n int, w http.ResponseWriter, r *http.Request) {
		if got.Add(1) == want.Load() {
			close(done)
		}
	})
	_ = rc
	s := heraldtest.Start(b, heraldtest.Options{})
	s.Setup(rc.URL, nil)
	want.Store(int64(b.N))
	b.ResetTimer()
	start := time.Now()
	postEvents(b, s.URL, 64)
	accepted := time.Since(start)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("receiver got %d of %d", got.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "delivered/s")
}

// BenchmarkFanout sends events of one type to an app with 300 endpoints,
// all subscribed, from 16 concurrent clients, and waits until every
// endpoint has every event: the path where each event makes many
// deliveries and most of the store's work is per delivery, not per event.
// b.N counts events; the figure that matters is deliveries/s.
func BenchmarkFanout(b *testing.B) {
	const endpoints = 300
	var got atomic.Int64
	var want atomic.Int64
	done := make(chan struct{})
	// One light receiver for every endpoint (paths differ): recording every
	// request as heraldtest's receiver does would cost more than sending.
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if got.Add(1) == want.Load() {
			close(done)
		}
	}))
	b.Cleanup(rc.Close)
	s := heraldtest.Start(b, heraldtest.Options{})
	s.Setup(rc.URL+"/r/0", nil)
	for i := 1; i < endpoints; i++ {
		s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": fmt.Sprintf("%s/r/%d", rc.URL, i)}, nil, 201)
	}
	want.Store(int64(b.N) * endpoints)
	b.ResetTimer()
	start := time.Now()
	postEvents(b, s.URL, 16)
	accepted := time.Since(start)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("receivers got %d of %d", got.Load(), want.Load())
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(want.Load())/elapsed.Seconds(), "deliveries/s")
}

// postEvents posts b.N lead.created events of 1 KiB to app acme from
// clients concurrent clients over keep-alive connections, and returns once
// every one was answered 202.
func postEvents(b *testing.B, base string, clients int) {
	payload := fmt.Sprintf(`{"event_type":"lead.created","payload":{"pad":%q}}`, strings.Repeat("x", 1000))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequest("POST", base+"/v1/apps/acme/events", bytes.NewBufferString(payload))
				req.Header.Set("Authorization", "Bearer "+heraldtest.Token)
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != 202 {
					b.Errorf("post: %v %v", err, resp)
					return
				}
				// Read to the end, or the connection is not reused.
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}
