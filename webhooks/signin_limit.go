package webhooks

import (
	"net/netip"
	"sync"
	"time"
)

// Wrong dashboard tokens are bounded per client address: after
// signInFailures wrong tokens within signInWindow, every token from that
// address, the right one too, is refused with 429 until the oldest of
// those failures is signInWindow old. A session cookie made before keeps
// working: the bound is on guessing tokens, not on using the page.
//
// A dashboard token has at least 32 characters, so guessing one is not a
// real threat when it was generated as the configuration asks; the bound
// is for a token a person made up, and it keeps a guesser from filling the
// log. It is per instance: n instances allow n times as many guesses.
const (
	signInFailures = 10
	signInWindow   = 15 * time.Minute
	// signInTracked bounds the addresses remembered; past it, addresses
	// with no failure in the window are forgotten first, then any.
	signInTracked = 10000
)

// signInLimiter counts wrong tokens per address. The zero value is ready.
type signInLimiter struct {
	mu     sync.Mutex
	failed map[string][]time.Time // failures in the window, oldest first
}

// addressKey is the part of a client address one person controls: the
// address itself for IPv4, its /64 for IPv6 (one subscriber's network, in
// which a client picks addresses freely).
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// recentLocked returns the failures of key still in the window at now; l.mu
// must be held.
func (l *signInLimiter) recentLocked(key string, now time.Time) []time.Time {
	f := l.failed[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= signInWindow {
		i++
	}
	if i == len(f) {
		delete(l.failed, key)
		return nil
	}
	if i > 0 {
		f = append(f[:0], f[i:]...)
		l.failed[key] = f
	}
	return f
}

// wait returns how long ip must wait before a token from it is checked
// again; 0 when it may try now.
func (l *signInLimiter) wait(ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.recentLocked(addressKey(ip), now)
	if len(f) < signInFailures {
		return 0
	}
	return f[len(f)-signInFailures].Add(signInWindow).Sub(now)
}

// fail records a wrong token from ip and reports whether that address is
// now refused (the failure that reached the bound).
func (l *signInLimiter) fail(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := addressKey(ip)
	if l.failed == nil {
		l.failed = map[string][]time.Time{}
	}
	if _, known := l.failed[key]; !known && len(l.failed) >= signInTracked {
		l.forgetLocked(now)
	}
	f := append(l.recentLocked(key, now), now)
	if len(f) > signInFailures {
		f = f[len(f)-signInFailures:]
	}
	l.failed[key] = f
	return len(f) == signInFailures
}

// succeed forgets ip's failures: the person there has the token.
func (l *signInLimiter) succeed(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failed, addressKey(ip))
}

// forgetLocked makes room: it drops every address with no failure left in
// the window and, if that was not enough, a tenth of the rest (map order:
// arbitrary ones). l.mu must be held.
func (l *signInLimiter) forgetLocked(now time.Time) {
	for key := range l.failed {
		l.recentLocked(key, now)
	}
	drop := len(l.failed) - signInTracked*9/10
	for key := range l.failed {
		if drop <= 0 {
			break
		}
		delete(l.failed, key)
		drop--
	}
}
