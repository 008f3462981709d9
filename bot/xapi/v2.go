package xapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxResponse bounds how much of an answer is read; X's are far smaller.
const maxResponse = 1 << 20

// NewV2 returns a Client for X API v2 at baseURL (for example
// "https://api.twitter.com"), sending through hc (http.DefaultClient's
// settings when nil). An invalid baseURL makes every call fail.
func NewV2(baseURL string, hc *http.Client) Client {
	_, err := parseBase(baseURL)
	return &v2Client{base: strings.TrimSuffix(baseURL, "/"), hc: hc, baseErr: err}
}

// v2Client implements Client over X API v2.
type v2Client struct {
	base    string
	hc      *http.Client
	baseErr error
}

// PostReply calls POST /2/tweets with a reply.in_reply_to_tweet_id.
func (c *v2Client) PostReply(ctx context.Context, creds Credentials, inReplyTo, text string) (string, error) {
	if inReplyTo == "" {
		return "", errors.New("post reply: empty in-reply-to post id")
	}
	type reply struct {
		InReplyToTweetID string `json:"in_reply_to_tweet_id"`
	}
	req := struct {
		Text  string `json:"text"`
		Reply reply  `json:"reply"`
	}{Text: text, Reply: reply{InReplyToTweetID: inReplyTo}}
	var resp struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := c.post(ctx, creds, "/2/tweets", req, &resp, false); err != nil {
		return "", fmt.Errorf("post reply: %w", err)
	}
	if resp.Data.ID == "" {
		return "", errors.New("post reply: answer without post id")
	}
	return resp.Data.ID, nil
}

// SendDM calls POST /2/dm_conversations/with/{recipientID}/messages.
func (c *v2Client) SendDM(ctx context.Context, creds Credentials, recipientID, text string) (string, error) {
	if recipientID == "" {
		return "", errors.New("send dm: empty recipient id")
	}
	req := struct {
		Text string `json:"text"`
	}{Text: text}
	var resp struct {
		Data struct {
			EventID string `json:"dm_event_id"`
		} `json:"data"`
	}
	path := "/2/dm_conversations/with/" + url.PathEscape(recipientID) + "/messages"
	if err := c.post(ctx, creds, path, req, &resp, true); err != nil {
		return "", fmt.Errorf("send dm: %w", err)
	}
	if resp.Data.EventID == "" {
		return "", errors.New("send dm: answer without event id")
	}
	return resp.Data.EventID, nil
}

// post sends body as JSON to path, signed with creds, and decodes a 2xx answer
// into out. A non-2xx answer becomes an *APIError; dm marks a DM endpoint.
func (c *v2Client) post(ctx context.Context, creds Credentials, path string, body, out any, dm bool) error {
	if c.baseErr != nil {
		return c.baseErr
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return c.do(creds, req, out, dm)
}

// do sends req signed with creds and decodes a 2xx answer into out. A
// non-2xx answer becomes an *APIError; dm marks a DM endpoint.
func (c *v2Client) do(creds Credentials, req *http.Request, out any, dm bool) error {
	resp, err := signingClient(c.hc, creds, nil).Do(req)
	if err != nil {
		return err // *url.Error: names method and URL, never the Authorization header
	}
	return readV2Answer(resp, out, dm)
}

// readV2Answer reads and closes a v2 answer: non-2xx becomes an *APIError
// with X's message (dm marks a DM endpoint); a 2xx body is decoded into out
// when both exist. Callers check that what they need was in it.
func readV2Answer(resp *http.Response, out any, dm bool) error {
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		code, msg := v2ErrorDetail(raw)
		return newAPIError(resp.StatusCode, resp.Header, code, msg, dm)
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// v2ErrorDetail extracts the code and message of a v2 error body: a problem
// document ({"title","detail","type","status"}) or a legacy
// {"errors":[{"code","message"}]}. Unreadable bodies give (0, "").
func v2ErrorDetail(raw []byte) (int, string) {
	var body struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &body) != nil {
		return 0, ""
	}
	code, msg := 0, ""
	if len(body.Errors) > 0 {
		code, msg = body.Errors[0].Code, body.Errors[0].Message
	}
	switch {
	case body.Detail != "":
		msg = body.Detail
	case msg == "":
		msg = body.Title
	}
	return code, msg
}

// SentDMs calls GET /2/dm_conversations/with/{recipientID}/dm_events and
// returns the texts of recent messages in the conversation, newest first.
func (c *v2Client) SentDMs(ctx context.Context, creds Credentials, recipientID string) ([]SentDM, error) {
	var out struct {
		Data []SentDM `json:"data"`
	}
	path := "/2/dm_conversations/with/" + url.PathEscape(recipientID) + "/dm_events"
	if err := c.get(ctx, creds, path, url.Values{"dm_event.fields": {"text,sender_id"}}, &out, false); err != nil {
		return nil, fmt.Errorf("list dms: %w", err)
	}
	return out.Data, nil
}

// get sends a signed GET of path with query and decodes a 2xx answer into
// out. A non-2xx answer becomes an *APIError; dm marks a DM endpoint.
func (c *v2Client) get(ctx context.Context, creds Credentials, path string, query url.Values, out any, dm bool) error {
	if c.baseErr != nil {
		return c.baseErr
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	return c.do(creds, req, out, dm)
}
