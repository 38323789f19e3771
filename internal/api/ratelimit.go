package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits of the routes anyone may call, and of failed authentications.
// They are per client address: the TCP peer, so behind a reverse proxy
// every client shares the proxy's buckets (headers such as
// X-Forwarded-For are not trusted: anyone can send them).
const (
	// jwksPerAddress and jwksPerApp: JWKS documents are cached by
	// receivers for 5 minutes (Cache-Control), so a receiver needs few.
	jwksPerAddress, jwksAddressBurst = 5, 20
	jwksPerApp, jwksAppBurst         = 20, 40
	// failedAuthPerAddress: tokens that Herald had to look up and did not
	// find. Once an address has used its burst, tokens not already known
	// get 429 before any lookup, so a token-guessing flood never reaches
	// the store.
	failedAuthPerAddress, failedAuthBurst = 1, 20
)

// limiter holds a token bucket per key (an app, a credential, a client
// address): one busy caller cannot starve the others.
type limiter struct {
	rate  float64
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

// newLimiter allows r requests per second per key, with bursts of burst
// (at least 1); r <= 0 allows everything.
func newLimiter(r float64, burst int) *limiter {
	return &limiter{rate: r, burst: max(1, burst), m: map[string]*rate.Limiter{}}
}

// newRateLimiter allows r requests per second, in bursts of one second's.
func newRateLimiter(r float64) *limiter { return newLimiter(r, int(r)) }

func (l *limiter) bucket(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		if len(l.m) > 100_000 {
			// Bounded: start over rather than track recency.
			clear(l.m)
		}
		lim = rate.NewLimiter(rate.Limit(l.rate), l.burst)
		l.m[key] = lim
	}
	return lim
}

// allow takes a token for key, or says how long to wait for one.
func (l *limiter) allow(key string) (time.Duration, bool) {
	if l.rate <= 0 {
		return 0, true
	}
	now := time.Now()
	r := l.bucket(key).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// empty says whether key has no token left, and how long until it has
// one, without taking any.
func (l *limiter) empty(key string) (time.Duration, bool) {
	if l.rate <= 0 {
		return 0, false
	}
	tokens := l.bucket(key).Tokens()
	if tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - tokens) / l.rate * float64(time.Second)), true
}

// take uses a token of key, if it has one.
func (l *limiter) take(key string) {
	if l.rate > 0 {
		l.bucket(key).Allow()
	}
}

// clientAddr is the bucket of the request's client: its IP address, or
// for IPv6 its /64, which one subscriber usually holds whole.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// setRetryAfter says in whole seconds, at least one, when to try again.
func setRetryAfter(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
}

// rateLimited is the 429 answer of a limiter, with Retry-After.
func rateLimited(w http.ResponseWriter, wait time.Duration, format string, args ...any) *Error {
	setRetryAfter(w, wait)
	return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Message: fmt.Sprintf(format, args...) + "; retry after " + wait.Round(time.Millisecond).String()}
}
