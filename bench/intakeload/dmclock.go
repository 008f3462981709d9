package main

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// dmClock wraps the X simulator's handler and notes when each DM request
// (POST /2/dm_conversations/with/{id}/messages) arrives, before the
// simulator handles it. It reads the same monotonic clock as the sender
// (since), so arrival minus due time is a true interval within this
// process.
type dmClock struct {
	next  http.Handler
	since func() time.Duration

	mu sync.Mutex
	// first is the arrival of the first DM request per recipient.
	first map[string]time.Duration
	// requests counts every DM request, repeats included.
	requests int
	// arrived is closed and replaced on each first arrival, so waiters
	// need not poll.
	arrived chan struct{}
}

func newDMClock(next http.Handler, since func() time.Duration) *dmClock {
	return &dmClock{next: next, since: since, first: map[string]time.Duration{}, arrived: make(chan struct{})}
}

// ServeHTTP records a DM request's recipient and arrival time, then passes
// every request on unchanged.
func (d *dmClock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := dmRecipient(r); ok {
		at := d.since()
		d.mu.Lock()
		d.requests++
		if _, seen := d.first[id]; !seen {
			d.first[id] = at
			close(d.arrived)
			d.arrived = make(chan struct{})
		}
		d.mu.Unlock()
	}
	d.next.ServeHTTP(w, r)
}

// dmRecipient returns the participant id of a v2 DM request.
func dmRecipient(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/2/dm_conversations/with/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/messages")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// snapshot returns a copy of the first arrivals and the request count.
func (d *dmClock) snapshot() (map[string]time.Duration, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]time.Duration, len(d.first))
	for k, v := range d.first {
		out[k] = v
	}
	return out, d.requests
}

// waitFor blocks until every one of users has had a DM request or until
// deadline (on the since clock), whichever is first, and reports whether
// all arrived.
func (d *dmClock) waitFor(users []string, deadline time.Duration) bool {
	i := 0
	for {
		d.mu.Lock()
		for i < len(users) {
			if _, ok := d.first[users[i]]; !ok {
				break
			}
			i++
		}
		ch := d.arrived
		d.mu.Unlock()
		if i == len(users) {
			return true
		}
		left := deadline - d.since()
		if left <= 0 {
			return false
		}
		t := time.NewTimer(left)
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}
