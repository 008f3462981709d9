package xsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/xsim"
)

const (
	consumerKey    = "demo-consumer-key"
	consumerSecret = "demo-consumer-secret"
	merchantToken  = "1111-merchant-token"
)

// testClock is an injected clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// start runs a simulator behind an httptest server on a frozen clock.
func start(t *testing.T) (*xsim.Server, *httptest.Server, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	sim := xsim.New(xsim.Options{ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, Now: clock.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv, clock
}

// oauthHeader builds an OAuth Authorization header; the signature is not
// checked by the simulator, so any value does.
func oauthHeader(key, token string) string {
	return `OAuth oauth_consumer_key="` + url.PathEscape(key) + `", oauth_nonce="abc", oauth_signature="c2ln%3D", ` +
		`oauth_signature_method="HMAC-SHA1", oauth_timestamp="1772366400", oauth_token="` + url.PathEscape(token) + `", oauth_version="1.0"`
}

// call is one raw API request.
type call struct {
	name, path, contentType, body string
}

// Raw requests for each endpoint, valid apart from authentication.
var (
	v2Reply  = call{"v2 reply", "/2/tweets", "application/json", `{"text":"Check your DMs","reply":{"in_reply_to_tweet_id":"1790000000000000001"}}`}
	v2DM     = call{"v2 dm", "/2/dm_conversations/with/42/messages", "application/json", `{"text":"Pay here"}`}
	v11Reply = call{"v1.1 reply", "/1.1/statuses/update.json", "application/x-www-form-urlencoded", "status=Check+your+DMs&in_reply_to_status_id=1790000000000000001"}
	v11DM    = call{"v1.1 dm", "/1.1/direct_messages/events/new.json", "application/json",
		`{"event":{"type":"message_create","message_create":{"target":{"recipient_id":"42"},"message_data":{"text":"Pay here"}}}}`}
	allCalls = []call{v2Reply, v2DM, v11Reply, v11DM}
)

// isV11 reports whether c is a v1.1 endpoint.
func (c call) isV11() bool { return strings.HasPrefix(c.path, "/1.1/") }

// answer is a decoded API answer.
type answer struct {
	status int
	header http.Header
	body   map[string]any
}

// send makes c against srv with the given Authorization header.
func send(t *testing.T, srv *httptest.Server, c call, auth string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", c.contentType)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s: answer %q is not a JSON object: %v", c.name, raw, err)
	}
	return a
}

// v11Error returns the first v1.1 error's code and message.
func (a answer) v11Error(t *testing.T) (int, string) {
	t.Helper()
	errs, _ := a.body["errors"].([]any)
	if len(errs) == 0 {
		t.Fatalf("answer %v has no errors array", a.body)
	}
	e := errs[0].(map[string]any)
	code, _ := e["code"].(float64)
	msg, _ := e["message"].(string)
	return int(code), msg
}

// checkError asserts the answer is status in c's version's error format
// (v1.1 errors with code; v2 problem with status) and returns the message.
func checkError(t *testing.T, c call, a answer, status, v11Code int) string {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status %d, want %d (body %v)", c.name, a.status, status, a.body)
	}
	if c.isV11() {
		code, msg := a.v11Error(t)
		if code != v11Code {
			t.Errorf("%s: error code %d, want %d", c.name, code, v11Code)
		}
		return msg
	}
	if s, _ := a.body["status"].(float64); int(s) != status || a.body["title"] == nil || a.body["type"] == nil {
		t.Errorf("%s: %v is not a v2 problem with status %d", c.name, a.body, status)
	}
	detail, _ := a.body["detail"].(string)
	return detail
}
