package outbound_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/outbound"
)

// The headers of an answer are kept in the attempt record up to
// MaxKeptHeaders names and MaxKeptHeaderBytes in all, in name order, the
// last value cut without splitting a character and the record saying so;
// the retry decision still reads every header.
func TestResponseHeadersKept(t *testing.T) {
	t.Parallel()
	srv := serve(t, &receiver{answer: func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/long":
			w.Header().Set("A-Long", strings.Repeat("é", 5000))
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/many":
			for i := range 80 {
				w.Header().Set(fmt.Sprintf("X-H-%02d", i), "v")
			}
		default:
			w.Header().Set("X-Receiver", "ok")
		}
	}})
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now})
	size := func(m map[string]string) int {
		n := 0
		for k, v := range m {
			n += len(k) + len(v)
		}
		return n
	}

	o := h.Send(context.Background(), newDelivery(t, srv.URL+"/long"))
	kept := o.Response.Headers
	if v := kept["A-Long"]; !o.Response.HeadersTruncated || !strings.HasSuffix(v, "…") || !utf8.ValidString(v) || len(v) < 8000 {
		t.Fatalf("long value kept as %d bytes, truncated %v", len(v), o.Response.HeadersTruncated)
	}
	if n := size(kept); n > outbound.MaxKeptHeaderBytes {
		t.Fatalf("kept %d bytes of headers", n)
	}
	if _, ok := kept["Retry-After"]; ok || o.RetryAfter == nil || *o.RetryAfter != 7*time.Second {
		t.Fatalf("Retry-After: kept %v, read %v; want left out of the record but honoured", ok, o.RetryAfter)
	}

	o = h.Send(context.Background(), newDelivery(t, srv.URL+"/many"))
	if len(o.Response.Headers) != outbound.MaxKeptHeaders || !o.Response.HeadersTruncated {
		t.Fatalf("kept %d headers, truncated %v", len(o.Response.Headers), o.Response.HeadersTruncated)
	}

	o = h.Send(context.Background(), newDelivery(t, srv.URL+"/few"))
	wantOK(t, o)
	if o.Response.HeadersTruncated || o.Response.Headers["X-Receiver"] != "ok" || o.Response.Headers["Content-Length"] != "0" {
		t.Fatalf("a small answer's headers: %v, truncated %v", o.Response.Headers, o.Response.HeadersTruncated)
	}
}
