package delivery_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
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
	payload := fmt.Sprintf(`{"event_type":"lead.created","payload":{"pad":%q}}`, strings.Repeat("x", 1000))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	want.Store(int64(b.N))
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequest("POST", s.URL+"/v1/apps/acme/events", bytes.NewBufferString(payload))
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
