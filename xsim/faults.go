package xsim

import (
	"net/http"
	"strconv"
	"time"
)

// rateLimitCeiling is the x-rate-limit-limit the Server reports.
const rateLimitCeiling = 300

// RateLimitUntil makes every API request answer 429 Too Many Requests, with
// x-rate-limit-remaining 0 and x-rate-limit-reset set to t in unix seconds
// (rounded up), until the Server's clock reaches t. A zero t lifts the limit.
func (s *Server) RateLimitUntil(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitUntil = t
}

// FailNext makes the next n API requests answer status (for example 500 or
// 503) with an X-style error body and record nothing. A later call replaces
// an earlier one; n <= 0 cancels it. A FailNext fault is answered before a
// rate limit, so a request it fails does not also count against RateLimitUntil.
func (s *Server) FailNext(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failStatus = max(n, 0), status
}

// CloseDMs sets whether userID refuses direct messages. While closed, DMs to
// that user are refused as X refuses them: v1.1 answers 403 with error code
// 349 "You cannot send messages to this user.", v2 answers 403 with that
// sentence as the problem detail.
func (s *Server) CloseDMs(userID string, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if closed {
		s.closedDMs[userID] = true
	} else {
		delete(s.closedDMs, userID)
	}
}

// dmsClosed reports whether userID refuses direct messages.
func (s *Server) dmsClosed(userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closedDMs[userID]
}

// fault answers the request with an injected fault, if one is in force, and
// reports whether it did.
func (s *Server) fault(w http.ResponseWriter, ver apiVersion) bool {
	now := s.opts.Now()
	s.mu.Lock()
	status := 0
	var reset time.Time
	switch {
	case s.failLeft > 0:
		s.failLeft--
		status = s.failStatus
		reset = now.Add(15 * time.Minute)
	case !s.limitUntil.IsZero() && now.Before(s.limitUntil):
		status = http.StatusTooManyRequests
		reset = s.limitUntil
	}
	s.mu.Unlock()

	switch {
	case status == 0:
		return false
	case status == http.StatusTooManyRequests:
		h := w.Header()
		h.Set("x-rate-limit-limit", strconv.Itoa(rateLimitCeiling))
		h.Set("x-rate-limit-remaining", "0")
		h.Set("x-rate-limit-reset", strconv.FormatInt(ceilUnix(reset), 10))
		writeError(w, ver, status, 88, "Rate limit exceeded")
	case status == http.StatusServiceUnavailable:
		writeError(w, ver, status, 130, "Over capacity")
	case status >= 500:
		writeError(w, ver, status, 131, "Internal error")
	default:
		writeError(w, ver, status, 0, http.StatusText(status))
	}
	return true
}

// ceilUnix returns t in unix seconds, rounded up to the next whole second.
func ceilUnix(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}
