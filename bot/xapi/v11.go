package xapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/dghubble/go-twitter/twitter"
)

// NewV11 returns a Client for X API v1.1 through go-twitter. go-twitter always
// addresses https://api.twitter.com/1.1/; requests are redirected to baseURL
// (scheme, host and any path prefix) before they are signed. hc's Transport
// carries them (http.DefaultTransport when nil). An invalid baseURL makes
// every call fail.
func NewV11(baseURL string, hc *http.Client) Client {
	base, err := parseBase(baseURL)
	return &v11Client{base: base, hc: hc, baseErr: err}
}

// v11Client implements Client over X API v1.1.
type v11Client struct {
	base    *url.URL
	hc      *http.Client
	baseErr error
}

// twitter returns a go-twitter client bound to ctx and creds. go-twitter has
// no context parameters, so ctx rides on the transport.
func (c *v11Client) twitter(ctx context.Context, creds Credentials) *twitter.Client {
	hc := signingClient(c.hc, creds, func(signer http.RoundTripper) http.RoundTripper {
		return &rebaseTransport{ctx: ctx, base: c.base, next: signer}
	})
	return twitter.NewClient(hc)
}

// PostReply calls POST /1.1/statuses/update.json with in_reply_to_status_id
// and auto_populate_reply_metadata=true.
func (c *v11Client) PostReply(ctx context.Context, creds Credentials, inReplyTo, text string) (string, error) {
	if c.baseErr != nil {
		return "", fmt.Errorf("post reply: %w", c.baseErr)
	}
	id, err := strconv.ParseInt(inReplyTo, 10, 64)
	if err != nil || id <= 0 {
		return "", fmt.Errorf("post reply: in-reply-to post id %q is not an X id", inReplyTo)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("post reply: %w", err)
	}
	tweet, resp, err := c.twitter(ctx, creds).Statuses.Update(text, &twitter.StatusUpdateParams{
		InReplyToStatusID:         id,
		AutoPopulateReplyMetadata: twitter.Bool(true),
	})
	if err := v11Error(resp, err, false); err != nil {
		return "", fmt.Errorf("post reply: %w", err)
	}
	if tweet == nil || tweet.IDStr == "" {
		return "", errors.New("post reply: answer without post id")
	}
	return tweet.IDStr, nil
}

// SendDM calls POST /1.1/direct_messages/events/new.json with a
// message_create event.
func (c *v11Client) SendDM(ctx context.Context, creds Credentials, recipientID, text string) (string, error) {
	if c.baseErr != nil {
		return "", fmt.Errorf("send dm: %w", c.baseErr)
	}
	if recipientID == "" {
		return "", errors.New("send dm: empty recipient id")
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("send dm: %w", err)
	}
	event, resp, err := c.twitter(ctx, creds).DirectMessages.EventsNew(&twitter.DirectMessageEventsNewParams{
		Event: &twitter.DirectMessageEvent{
			Type: "message_create",
			Message: &twitter.DirectMessageEventMessage{
				Target: &twitter.DirectMessageTarget{RecipientID: recipientID},
				Data:   &twitter.DirectMessageData{Text: text},
			},
		},
	})
	if err := v11Error(resp, err, true); err != nil {
		return "", fmt.Errorf("send dm: %w", err)
	}
	if event == nil || event.ID == "" {
		return "", errors.New("send dm: answer without event id")
	}
	return event.ID, nil
}

// v11Error turns go-twitter's result into ours: any non-2xx answer becomes an
// *APIError (with X's first error code and message when the body had them,
// and the rate-limit reset on 429), whatever go-twitter made of the body;
// otherwise err (network or decoding) is returned as is. dm marks the DM
// endpoint, where a refusal may mean ErrDMClosed.
func v11Error(resp *http.Response, err error, dm bool) error {
	if resp != nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		code, msg := 0, ""
		var te twitter.APIError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			code, msg = te.Errors[0].Code, te.Errors[0].Message
		}
		return newAPIError(resp.StatusCode, resp.Header, code, msg, dm)
	}
	return err
}
