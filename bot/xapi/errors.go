package xapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrDMClosed is matched (errors.Is) by the error of SendDM when X refuses the
// message because the recipient does not accept direct messages from the
// merchant: v1.1 error code 349 (or 476, recipient takes requests only from
// verified senders), or a v2 403 whose detail says messages cannot be sent to
// this user. Retrying will not help; another channel is needed.
var ErrDMClosed = errors.New("recipient does not accept direct messages")

// APIError is returned (as *APIError, possibly wrapped) when X answers with a
// non-2xx status.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is X's numeric error code (v1.1 "errors[0].code"); 0 when X gave none,
	// as v2 problem documents usually do.
	Code int
	// Message is X's error message (v1.1 "errors[0].message", v2 "detail" or
	// "title"), or the HTTP status text when the body had none.
	Message string
	// RetryAt is when the rate limit resets (x-rate-limit-reset) on a 429;
	// zero otherwise, or when X did not send the header.
	RetryAt time.Time

	// dmClosed marks a refused DM; see ErrDMClosed.
	dmClosed bool
}

// Error describes the refusal; it never contains credentials.
func (e *APIError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("x api: status %d, code %d: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("x api: status %d: %s", e.Status, e.Message)
}

// Is reports whether e is an ErrDMClosed refusal.
func (e *APIError) Is(target error) bool {
	return target == ErrDMClosed && e.dmClosed
}

// IsRetryable reports whether sending the same request again later may
// succeed: true for 5xx and 429 answers and for network errors (including
// timeouts); false for other 4xx answers, a cancelled context, invalid input
// and unreadable success bodies (the post or message may already exist).
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusTooManyRequests || ae.Status >= 500
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// RateLimited reports whether err is a 429 answer and, if so, when X said the
// limit resets. retryAt is zero when X did not send x-rate-limit-reset.
func RateLimited(err error) (retryAt time.Time, ok bool) {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
		return ae.RetryAt, true
	}
	return time.Time{}, false
}

// newAPIError builds the APIError for a non-2xx answer from its status and
// headers and the code and message X gave (zero values when none). dm marks a
// DM endpoint, where a refusal may mean ErrDMClosed.
func newAPIError(status int, h http.Header, code int, message string, dm bool) *APIError {
	if message == "" {
		message = http.StatusText(status)
	}
	e := &APIError{Status: status, Code: code, Message: message}
	if status == http.StatusTooManyRequests {
		if sec, err := strconv.ParseInt(strings.TrimSpace(h.Get("x-rate-limit-reset")), 10, 64); err == nil && sec > 0 {
			e.RetryAt = time.Unix(sec, 0)
		}
	}
	e.dmClosed = dm && isDMClosed(status, code, message)
	return e
}

// isDMClosed reports whether a DM refusal means the recipient does not take
// the merchant's messages. v1.1 says so with codes; v2 only in prose, so the
// v2 check matches the sentence X uses ("You cannot send messages to this
// user.") and its variants ("not allowed/permitted to send a message to this
// user"), never a bare 403, which also means missing DM permission.
func isDMClosed(status, code int, message string) bool {
	if status != http.StatusForbidden {
		return false
	}
	if code == 349 || code == 476 {
		return true
	}
	m := strings.ToLower(message)
	return strings.Contains(m, "message") && strings.Contains(m, "to this user")
}
