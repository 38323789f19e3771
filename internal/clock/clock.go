// Package clock is where the delivery engine's time comes from: its
// timestamps, timers and tickers. One clock for all of them means a test
// that controls time controls every wait at once (the engine's loops run
// under testing/synctest's fake time, or under a clock of the test's own),
// and no part of the engine can read a second, unrelated time.
package clock

import "time"

// Clock tells the time and makes timers and tickers on it.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
	NewTicker(d time.Duration) Ticker
}

// Timer is a time.Timer of some clock.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// Ticker is a time.Ticker of some clock.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the system's clock (and, inside a testing/synctest bubble, the
// bubble's fake one).
var Real Clock = real{}

type real struct{}

func (real) Now() time.Time                   { return time.Now() }
func (real) NewTimer(d time.Duration) Timer   { return realTimer{time.NewTimer(d)} }
func (real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time        { return t.t.C }
func (t realTimer) Stop() bool                 { return t.t.Stop() }
func (t realTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }

// Sleep waits for d on c, or until done is closed; it reports whether the
// whole wait passed.
func Sleep(c Clock, d time.Duration, done <-chan struct{}) bool {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-done:
		return false
	}
}
