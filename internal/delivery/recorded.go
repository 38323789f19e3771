package delivery

// recordedSignal wakes whoever waits for this node's next recorded
// attempt: a channel closed, and replaced, each time attempts are stored.
// A follower of the store (the API's attempt stream) reads it then rather
// than at its next poll; the poll still finds the other nodes' attempts.
func (e *Engine) recordedSignal() chan struct{} {
	e.recordedMu.Lock()
	defer e.recordedMu.Unlock()
	if e.recorded == nil {
		e.recorded = make(chan struct{})
	}
	return e.recorded
}

// Recorded returns a channel closed once this node next stores attempts
// (sent, pulled and acknowledged, test sends, resends).
func (e *Engine) Recorded() <-chan struct{} { return e.recordedSignal() }

// signalRecorded wakes those waiting on Recorded.
func (e *Engine) signalRecorded() {
	e.recordedMu.Lock()
	defer e.recordedMu.Unlock()
	if e.recorded != nil {
		close(e.recorded)
		e.recorded = nil
	}
}
