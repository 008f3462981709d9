package xapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
)

// Credentials sign one merchant's requests (OAuth 1.0a user context). Their
// String, GoString and LogValue methods hide the secrets, so printing or
// logging Credentials shows only the consumer key and access token.
type Credentials struct {
	ConsumerKey, ConsumerSecret, AccessToken, AccessSecret string
	// UserID is the X user id of the account the access token belongs to.
	// Only calls that name the account need it (SentPosts); when it is
	// empty they take it from the access token, which X issues as
	// "<user id>-<rest>".
	UserID string
}

// String describes c without its secrets.
func (c Credentials) String() string {
	return fmt.Sprintf("xapi.Credentials{ConsumerKey:%q, AccessToken:%q, secrets redacted}", c.ConsumerKey, c.AccessToken)
}

// GoString describes c without its secrets, for %#v.
func (c Credentials) GoString() string { return c.String() }

// LogValue describes c to log/slog without its secrets.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("consumer_key", c.ConsumerKey), slog.String("access_token", c.AccessToken))
}

// Client publishes on X as the merchant whose Credentials are passed. Methods
// honour ctx cancellation and are safe for concurrent use. Errors from X are
// *APIError (see IsRetryable, RateLimited, ErrDMClosed).
type Client interface {
	// PostReply publishes text as a reply to the post inReplyTo; returns the new post id.
	PostReply(ctx context.Context, creds Credentials, inReplyTo, text string) (string, error)
	// SendDM sends a direct message to the user id; returns the message/event id.
	SendDM(ctx context.Context, creds Credentials, recipientID, text string) (string, error)
}

// SentDM is a message of a conversation, as X lists them.
type SentDM struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// DMLister can list a conversation's recent messages, so that a sender
// unsure whether its last attempt went through can look before sending
// again (X takes no idempotency key). The v2 client implements it.
type DMLister interface {
	SentDMs(ctx context.Context, creds Credentials, recipientID string) ([]SentDM, error)
}

// New returns the Client for an X API version: "2" (NewV2) or "1.1" (NewV11).
// It fails for any other version or a base URL that is not an absolute
// http(s) URL.
func New(version, baseURL string, hc *http.Client) (Client, error) {
	if _, err := parseBase(baseURL); err != nil {
		return nil, err
	}
	switch version {
	case "2":
		return NewV2(baseURL, hc), nil
	case "1.1":
		return NewV11(baseURL, hc), nil
	}
	return nil, fmt.Errorf("x api version %q: want \"2\" or \"1.1\"", version)
}

// parseBase checks that baseURL is an absolute http(s) URL without query or
// fragment and returns it parsed.
func parseBase(baseURL string) (*url.URL, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("x api base url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("x api base url %q: want http(s)://host[/prefix]", baseURL)
	}
	return u, nil
}
