package xapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/xapi"
)

func TestNon2xxAnswersBecomeAPIErrors(t *testing.T) {
	reset := time.Unix(1767225600, 0)
	rateHeaders := http.Header{"X-Rate-Limit-Reset": {"1767225600"}, "X-Rate-Limit-Remaining": {"0"}}
	tests := []struct {
		name      string
		version   string
		dm        bool
		status    int
		header    http.Header
		body      string
		want      xapi.APIError
		dmClosed  bool
		retryable bool
	}{
		{"v1.1 rate limit", "1.1", false, 429, rateHeaders, `{"errors":[{"code":88,"message":"Rate limit exceeded"}]}`,
			xapi.APIError{Status: 429, Code: 88, Message: "Rate limit exceeded", RetryAt: reset}, false, true},
		{"v2 rate limit", "2", true, 429, rateHeaders, `{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`,
			xapi.APIError{Status: 429, Message: "Too Many Requests", RetryAt: reset}, false, true},
		{"v2 rate limit without reset header", "2", false, 429, nil, `{"title":"Too Many Requests","type":"about:blank","status":429}`,
			xapi.APIError{Status: 429, Message: "Too Many Requests"}, false, true},
		{"v1.1 internal error", "1.1", false, 500, nil, `{"errors":[{"code":131,"message":"Internal error"}]}`,
			xapi.APIError{Status: 500, Code: 131, Message: "Internal error"}, false, true},
		{"v2 gateway page that is not json", "2", false, 502, nil, `<html>bad gateway</html>`,
			xapi.APIError{Status: 502, Message: "Bad Gateway"}, false, true},
		{"v1.1 gateway page that is not json", "1.1", true, 502, nil, `<html>bad gateway</html>`,
			xapi.APIError{Status: 502, Message: "Bad Gateway"}, false, true},
		{"v1.1 dm closed", "1.1", true, 403, nil, `{"errors":[{"code":349,"message":"You cannot send messages to this user."}]}`,
			xapi.APIError{Status: 403, Code: 349, Message: "You cannot send messages to this user."}, true, false},
		{"v1.1 dm to unverified-only recipient", "1.1", true, 403, nil, `{"errors":[{"code":476,"message":"Sender is not verified to send message requests"}]}`,
			xapi.APIError{Status: 403, Code: 476, Message: "Sender is not verified to send message requests"}, true, false},
		{"v2 dm closed", "2", true, 403, nil, `{"title":"Forbidden","detail":"You cannot send messages to this user.","type":"about:blank","status":403}`,
			xapi.APIError{Status: 403, Message: "You cannot send messages to this user."}, true, false},
		{"v2 dm not allowed wording", "2", true, 403, nil, `{"title":"Forbidden","detail":"You are not allowed to send a message to this user.","type":"about:blank","status":403}`,
			xapi.APIError{Status: 403, Message: "You are not allowed to send a message to this user."}, true, false},
		{"v2 dm without permission is not dm closed", "2", true, 403, nil, `{"title":"Forbidden","detail":"You are not permitted to perform this action.","type":"about:blank","status":403}`,
			xapi.APIError{Status: 403, Message: "You are not permitted to perform this action."}, false, false},
		{"v2 reply refused with dm wording is not dm closed", "2", false, 403, nil, `{"title":"Forbidden","detail":"You cannot send messages to this user.","type":"about:blank","status":403}`,
			xapi.APIError{Status: 403, Message: "You cannot send messages to this user."}, false, false},
		{"v2 legacy auth error", "2", false, 401, nil, `{"errors":[{"code":32,"message":"Could not authenticate you."}]}`,
			xapi.APIError{Status: 401, Code: 32, Message: "Could not authenticate you."}, false, false},
		{"v1.1 empty body", "1.1", false, 404, nil, ``,
			xapi.APIError{Status: 404, Message: "Not Found"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&recorder{status: tt.status, header: tt.header, body: tt.body})
			defer srv.Close()
			c, err := xapi.New(tt.version, srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			if tt.dm {
				_, err = c.SendDM(context.Background(), testCreds, "42", "hi")
			} else {
				_, err = c.PostReply(context.Background(), testCreds, "1", "hi")
			}
			var ae *xapi.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			got := xapi.APIError{Status: ae.Status, Code: ae.Code, Message: ae.Message, RetryAt: ae.RetryAt}
			if got != tt.want {
				t.Errorf("APIError = %+v, want %+v", got, tt.want)
			}
			if errors.Is(err, xapi.ErrDMClosed) != tt.dmClosed {
				t.Errorf("errors.Is(err, ErrDMClosed) = %v, want %v", !tt.dmClosed, tt.dmClosed)
			}
			if xapi.IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", !tt.retryable, tt.retryable)
			}
			retryAt, limited := xapi.RateLimited(err)
			if limited != (tt.status == 429) || !retryAt.Equal(tt.want.RetryAt) {
				t.Errorf("RateLimited = %v, %v; want %v, %v", retryAt, limited, tt.want.RetryAt, tt.status == 429)
			}
		})
	}
}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"server error", &xapi.APIError{Status: 503}, true},
		{"rate limited", &xapi.APIError{Status: 429}, true},
		{"bad request", &xapi.APIError{Status: 400}, false},
		{"forbidden", &xapi.APIError{Status: 403}, false},
		{"cancelled", context.Canceled, false},
		{"plain error", errors.New("decode answer: bad json"), false},
	}
	for _, tt := range tests {
		if got := xapi.IsRetryable(tt.err); got != tt.want {
			t.Errorf("%s: IsRetryable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestUnreachableServerIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base, hc := srv.URL, srv.Client()
	srv.Close()
	for _, version := range []string{"2", "1.1"} {
		c, _ := xapi.New(version, base, hc)
		_, err := c.SendDM(context.Background(), testCreds, "42", "hi")
		if err == nil || !xapi.IsRetryable(err) {
			t.Errorf("v%s: err = %v, want a retryable network error", version, err)
		}
		var ae *xapi.APIError
		if errors.As(err, &ae) {
			t.Errorf("v%s: network failure reported as APIError %v", version, ae)
		}
	}
}
