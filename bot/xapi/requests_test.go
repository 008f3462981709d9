package xapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashcart/hashcart/bot/xapi"
)

var testCreds = xapi.Credentials{
	ConsumerKey:    "demo-consumer-key",
	ConsumerSecret: "demo-consumer-secret",
	AccessToken:    "1111-merchant-token",
	AccessSecret:   "merchant-access-secret",
}

// captured is one request as the test server received it.
type captured struct {
	method, path, host, contentType, auth string
	body                                  []byte
	form                                  url.Values
	sigErr                                error
}

// recorder is a test server that captures requests and answers with a canned
// status, headers and body.
type recorder struct {
	mu     sync.Mutex
	got    []captured
	status int
	header http.Header
	body   string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := captured{
		method:      r.Method,
		path:        r.URL.EscapedPath(),
		host:        r.Host,
		contentType: r.Header.Get("Content-Type"),
		auth:        r.Header.Get("Authorization"),
		body:        body,
	}
	if c.contentType == "application/x-www-form-urlencoded" {
		c.form, _ = url.ParseQuery(string(body))
	}
	c.sigErr = verifySignature(r, c.form, testCreds.ConsumerSecret, testCreds.AccessSecret)
	rec.mu.Lock()
	rec.got = append(rec.got, c)
	rec.mu.Unlock()
	for k, vs := range rec.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.status)
	io.WriteString(w, rec.body)
}

func (rec *recorder) requests() []captured {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]captured(nil), rec.got...)
}

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(t *testing.T, a []byte, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("request body %q is not JSON: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("want %q is not JSON: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestClientsSendExactSignedRequests(t *testing.T) {
	const text = "Pay 5€ & go: https://shop.test/c?a=1+b #paid"
	tests := []struct {
		name        string
		version     string
		call        func(xapi.Client) (string, error)
		answer      string
		wantID      string
		wantPath    string
		wantType    string
		wantJSON    string     // when the body is JSON
		wantForm    url.Values // when the body is a form
		answerState int
	}{
		{
			name:    "v2 reply",
			version: "2",
			call: func(c xapi.Client) (string, error) {
				return c.PostReply(context.Background(), testCreds, "1790000000000000001", text)
			},
			answerState: http.StatusCreated,
			answer:      `{"data":{"id":"1790000000000000009","text":"x"}}`,
			wantID:      "1790000000000000009",
			wantPath:    "/x/2/tweets",
			wantType:    "application/json",
			wantJSON:    `{"text":"Pay 5€ & go: https://shop.test/c?a=1+b #paid","reply":{"in_reply_to_tweet_id":"1790000000000000001"}}`,
		},
		{
			name:        "v2 dm",
			version:     "2",
			call:        func(c xapi.Client) (string, error) { return c.SendDM(context.Background(), testCreds, "42", text) },
			answerState: http.StatusCreated,
			answer:      `{"data":{"dm_conversation_id":"42-1111","dm_event_id":"555"}}`,
			wantID:      "555",
			wantPath:    "/x/2/dm_conversations/with/42/messages",
			wantType:    "application/json",
			wantJSON:    `{"text":"Pay 5€ & go: https://shop.test/c?a=1+b #paid"}`,
		},
		{
			name:    "v1.1 reply",
			version: "1.1",
			call: func(c xapi.Client) (string, error) {
				return c.PostReply(context.Background(), testCreds, "1790000000000000001", text)
			},
			answerState: http.StatusOK,
			answer:      `{"id":1790000000000000009,"id_str":"1790000000000000009","text":"x"}`,
			wantID:      "1790000000000000009",
			wantPath:    "/x/1.1/statuses/update.json",
			wantType:    "application/x-www-form-urlencoded",
			wantForm: url.Values{
				"status":                       {text},
				"in_reply_to_status_id":        {"1790000000000000001"},
				"auto_populate_reply_metadata": {"true"},
			},
		},
		{
			name:        "v1.1 dm",
			version:     "1.1",
			call:        func(c xapi.Client) (string, error) { return c.SendDM(context.Background(), testCreds, "42", text) },
			answerState: http.StatusOK,
			answer:      `{"event":{"type":"message_create","id":"777","created_timestamp":"1","message_create":{"target":{"recipient_id":"42"},"message_data":{"text":"x"}}}}`,
			wantID:      "777",
			wantPath:    "/x/1.1/direct_messages/events/new.json",
			wantType:    "application/json",
			wantJSON:    `{"event":{"type":"message_create","message_create":{"target":{"recipient_id":"42"},"message_data":{"text":"Pay 5€ & go: https://shop.test/c?a=1+b #paid"}}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{status: tt.answerState, body: tt.answer}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			// A path prefix on the base URL must survive into the request.
			c, err := xapi.New(tt.version, srv.URL+"/x", srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			id, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if id != tt.wantID {
				t.Errorf("id = %q, want %q", id, tt.wantID)
			}
			got := rec.requests()
			if len(got) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(got))
			}
			r := got[0]
			if r.method != http.MethodPost || r.path != tt.wantPath {
				t.Errorf("request = %s %s, want POST %s", r.method, r.path, tt.wantPath)
			}
			if r.host != strings.TrimPrefix(srv.URL, "http://") {
				t.Errorf("Host = %q, want the test server's", r.host)
			}
			if !strings.HasPrefix(r.contentType, tt.wantType) {
				t.Errorf("Content-Type = %q, want %q", r.contentType, tt.wantType)
			}
			if tt.wantJSON != "" && !jsonEqual(t, r.body, tt.wantJSON) {
				t.Errorf("body = %s, want %s", r.body, tt.wantJSON)
			}
			if tt.wantForm != nil && !reflect.DeepEqual(r.form, tt.wantForm) {
				t.Errorf("form = %v, want %v", r.form, tt.wantForm)
			}
			for _, want := range []string{`oauth_consumer_key="demo-consumer-key"`, `oauth_token="1111-merchant-token"`, `oauth_signature="`} {
				if !strings.Contains(r.auth, want) {
					t.Errorf("Authorization %q lacks %s", r.auth, want)
				}
			}
			if r.sigErr != nil {
				t.Errorf("signature does not match the request received: %v", r.sigErr)
			}
			for _, secret := range []string{testCreds.ConsumerSecret, testCreds.AccessSecret} {
				if strings.Contains(r.auth, secret) || strings.Contains(string(r.body), secret) {
					t.Errorf("request carries a secret in clear")
				}
			}
		})
	}
}

// countingTransport counts the requests it carries.
type countingTransport struct {
	mu   sync.Mutex
	n    int
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func TestClientsSendThroughTheCallersTransport(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run(version, func(t *testing.T) {
			rec := &recorder{status: http.StatusOK, body: `{"data":{"id":"9"},"id_str":"9"}`}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			ct := &countingTransport{next: srv.Client().Transport}
			c, err := xapi.New(version, srv.URL, &http.Client{Transport: ct})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.PostReply(context.Background(), testCreds, "1", "hi"); err != nil {
				t.Fatal(err)
			}
			if ct.n != 1 {
				t.Errorf("caller's transport carried %d requests, want 1", ct.n)
			}
		})
	}
}

func TestNewAcceptsOnlyKnownVersionsAndHTTPBaseURLs(t *testing.T) {
	tests := []struct {
		version, base string
		ok            bool
	}{
		{"2", "https://api.twitter.com", true},
		{"1.1", "http://127.0.0.1:8080/prefix/", true},
		{"3", "https://api.twitter.com", false},
		{"", "https://api.twitter.com", false},
		{"2", "api.twitter.com", false},
		{"1.1", "ftp://api.twitter.com", false},
		{"2", "https://api.twitter.com?x=1", false},
	}
	for _, tt := range tests {
		_, err := xapi.New(tt.version, tt.base, nil)
		if (err == nil) != tt.ok {
			t.Errorf("New(%q, %q) error = %v, want ok=%v", tt.version, tt.base, err, tt.ok)
		}
	}
}

func TestInvalidIDsAreRefusedBeforeSending(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `{}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	ctx := context.Background()
	for _, version := range []string{"2", "1.1"} {
		c, _ := xapi.New(version, srv.URL, srv.Client())
		if _, err := c.PostReply(ctx, testCreds, "", "hi"); err == nil {
			t.Errorf("v%s PostReply with empty in-reply-to: no error", version)
		}
		if _, err := c.SendDM(ctx, testCreds, "", "hi"); err == nil {
			t.Errorf("v%s SendDM with empty recipient: no error", version)
		}
	}
	if _, err := xapi.NewV11(srv.URL, srv.Client()).PostReply(ctx, testCreds, "not-a-number", "hi"); err == nil {
		t.Error("v1.1 PostReply with a non-numeric id: no error")
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}
