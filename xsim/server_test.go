package xsim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/xapi"
	"github.com/hashcart/hashcart/xsim"
)

func TestClientRepliesAndDMsAreRecordedWithAuthorAndText(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run("v"+version, func(t *testing.T) {
			sim, srv, clock := start(t)
			c, err := xapi.New(version, srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			creds := xapi.Credentials{ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, AccessToken: merchantToken, AccessSecret: "s"}
			postID, err := c.PostReply(ctx, creds, "1790000000000000001", "Check your DMs #hashcart")
			if err != nil {
				t.Fatal(err)
			}
			other := creds
			other.AccessToken = "2222-other-merchant"
			dmID, err := c.SendDM(ctx, other, "42", "Pay here: https://shop.test/c/abc?x=1&y=2")
			if err != nil {
				t.Fatal(err)
			}

			wantPost := xsim.Post{ID: postID, AuthorToken: merchantToken, Text: "Check your DMs #hashcart", InReplyTo: "1790000000000000001", Version: version, At: clock.Now()}
			if got := sim.Posts(); len(got) != 1 || got[0] != wantPost {
				t.Errorf("Posts() = %+v, want [%+v]", got, wantPost)
			}
			wantDM := xsim.DM{ID: dmID, AuthorToken: "2222-other-merchant", RecipientID: "42", Text: "Pay here: https://shop.test/c/abc?x=1&y=2", Version: version, At: clock.Now()}
			if got := sim.DMs(); len(got) != 1 || got[0] != wantDM {
				t.Errorf("DMs() = %+v, want [%+v]", got, wantDM)
			}
			if got := sim.DMsTo("42"); len(got) != 1 || got[0] != wantDM {
				t.Errorf("DMsTo(42) = %+v, want [%+v]", got, wantDM)
			}
			if got := sim.DMsTo("43"); len(got) != 0 {
				t.Errorf("DMsTo(43) = %+v, want none", got)
			}
			if n := sim.Requests(); n != 2 {
				t.Errorf("Requests() = %d, want 2", n)
			}
		})
	}
}

func TestRequestsWithoutTheConsumerKeyAre401AndRecordNothing(t *testing.T) {
	auths := []struct{ name, header string }{
		{"wrong consumer key", oauthHeader("someone-else", merchantToken)},
		{"no header", ""},
		{"bearer token", "Bearer AAAA"},
		{"no oauth_token", `OAuth oauth_consumer_key="demo-consumer-key", oauth_nonce="n", oauth_signature="s", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1"`},
		{"unquoted values", `OAuth oauth_consumer_key=demo-consumer-key, oauth_nonce=n, oauth_signature=s, oauth_signature_method=HMAC-SHA1, oauth_timestamp=1, oauth_token=t`},
	}
	for _, c := range allCalls {
		for _, auth := range auths {
			t.Run(c.name+"/"+auth.name, func(t *testing.T) {
				sim, srv, _ := start(t)
				checkError(t, c, send(t, srv, c, auth.header), http.StatusUnauthorized, 32)
				if len(sim.Posts())+len(sim.DMs()) != 0 {
					t.Error("a refused request was recorded")
				}
				if sim.Requests() != 1 {
					t.Errorf("Requests() = %d, want 1 (refused requests count)", sim.Requests())
				}
			})
		}
	}
}

func TestPercentEncodedOAuthValuesAreDecoded(t *testing.T) {
	sim := xsim.New(xsim.Options{ConsumerKey: "key/with+signs="})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	h := `OAuth oauth_consumer_key="key%2Fwith%2Bsigns%3D", oauth_nonce="n", oauth_signature="s", ` +
		`oauth_signature_method="HMAC-SHA1", oauth_timestamp="1", oauth_token="1111-tok%2Bx"`
	if a := send(t, srv, v2Reply, h); a.status != http.StatusCreated {
		t.Fatalf("status %d, want 201: %v", a.status, a.body)
	}
	if got := sim.Posts()[0].AuthorToken; got != "1111-tok+x" {
		t.Errorf("AuthorToken = %q, want the decoded token 1111-tok+x", got)
	}
}

func TestRateLimitAnswers429UntilTheClockReachesTheReset(t *testing.T) {
	for _, c := range allCalls {
		t.Run(c.name, func(t *testing.T) {
			sim, srv, clock := start(t)
			until := clock.Now().Add(90*time.Second + 200*time.Millisecond)
			sim.RateLimitUntil(until)
			wantReset := strconv.FormatInt(until.Unix()+1, 10) // rounded up

			for _, at := range []time.Time{clock.Now(), until.Add(-time.Millisecond)} {
				clock.Set(at)
				a := send(t, srv, c, oauthHeader(consumerKey, merchantToken))
				msg := checkError(t, c, a, http.StatusTooManyRequests, 88)
				if c.isV11() && msg != "Rate limit exceeded" {
					t.Errorf("message %q, want Rate limit exceeded", msg)
				}
				if got := a.header.Get("x-rate-limit-reset"); got != wantReset {
					t.Errorf("x-rate-limit-reset = %q, want %q", got, wantReset)
				}
				if got := a.header.Get("x-rate-limit-remaining"); got != "0" {
					t.Errorf("x-rate-limit-remaining = %q, want 0", got)
				}
				if a.header.Get("x-rate-limit-limit") == "" {
					t.Error("x-rate-limit-limit missing")
				}
			}
			clock.Set(until)
			if a := send(t, srv, c, oauthHeader(consumerKey, merchantToken)); a.status/100 != 2 {
				t.Errorf("at the reset: status %d, want 2xx (%v)", a.status, a.body)
			}
			if n := len(sim.Posts()) + len(sim.DMs()); n != 1 {
				t.Errorf("recorded %d, want only the request after the reset", n)
			}
		})
	}
}

func TestFailNextFailsExactlyThatManyRequests(t *testing.T) {
	for _, c := range allCalls {
		t.Run(c.name, func(t *testing.T) {
			sim, srv, _ := start(t)
			sim.FailNext(2, http.StatusInternalServerError)
			for i := range 2 {
				a := send(t, srv, c, oauthHeader(consumerKey, merchantToken))
				if a.status != http.StatusInternalServerError {
					t.Fatalf("request %d: status %d, want 500", i+1, a.status)
				}
				checkError(t, c, a, http.StatusInternalServerError, 131)
			}
			if a := send(t, srv, c, oauthHeader(consumerKey, merchantToken)); a.status/100 != 2 {
				t.Fatalf("third request: status %d, want 2xx", a.status)
			}
			if n := len(sim.Posts()) + len(sim.DMs()); n != 1 {
				t.Errorf("recorded %d, want 1", n)
			}
		})
	}
}

func TestClosedDMsAreRefusedAsXRefusesThem(t *testing.T) {
	for _, c := range []call{v2DM, v11DM} {
		t.Run(c.name, func(t *testing.T) {
			sim, srv, _ := start(t)
			sim.CloseDMs("42", true)
			msg := checkError(t, c, send(t, srv, c, oauthHeader(consumerKey, merchantToken)), http.StatusForbidden, 349)
			if msg != "You cannot send messages to this user." {
				t.Errorf("message %q", msg)
			}
			if len(sim.DMs()) != 0 {
				t.Error("refused DM recorded")
			}
			sim.CloseDMs("42", false)
			if a := send(t, srv, c, oauthHeader(consumerKey, merchantToken)); a.status/100 != 2 {
				t.Errorf("after reopening: status %d", a.status)
			}
		})
	}
}

func TestClientSeesClosedDMsAsErrDMClosed(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		sim, srv, _ := start(t)
		sim.CloseDMs("42", true)
		c, _ := xapi.New(version, srv.URL, srv.Client())
		creds := xapi.Credentials{ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, AccessToken: merchantToken, AccessSecret: "s"}
		if _, err := c.SendDM(context.Background(), creds, "42", "hi"); !errors.Is(err, xapi.ErrDMClosed) {
			t.Errorf("v%s: err = %v, want ErrDMClosed", version, err)
		}
	}
}

func TestInvalidRequestsAreRefused(t *testing.T) {
	tests := []struct {
		c       call
		status  int
		v11Code int
	}{
		{call{"v2 empty text", "/2/tweets", "application/json", `{"text":""}`}, 400, 0},
		{call{"v2 not json", "/2/tweets", "application/json", `text=hi`}, 400, 0},
		{call{"v2 reply to non-id", "/2/tweets", "application/json", `{"text":"hi","reply":{"in_reply_to_tweet_id":"abc"}}`}, 400, 0},
		{call{"v2 dm to non-id", "/2/dm_conversations/with/bob/messages", "application/json", `{"text":"hi"}`}, 400, 0},
		{call{"v2 dm empty text", "/2/dm_conversations/with/42/messages", "application/json", `{}`}, 400, 0},
		{call{"v1.1 missing status", "/1.1/statuses/update.json", "application/x-www-form-urlencoded", `in_reply_to_status_id=1`}, 400, 170},
		{call{"v1.1 dm wrong type", "/1.1/direct_messages/events/new.json", "application/json", `{"event":{"type":"other"}}`}, 400, 214},
		{call{"v1.1 dm no text", "/1.1/direct_messages/events/new.json", "application/json", `{"event":{"type":"message_create","message_create":{"target":{"recipient_id":"42"}}}}`}, 400, 214},
		{call{"v2 unknown endpoint", "/2/users/me", "application/json", `{}`}, 404, 0},
		{call{"v1.1 unknown endpoint", "/1.1/statuses/destroy.json", "application/json", `{}`}, 404, 34},
	}
	for _, tt := range tests {
		t.Run(tt.c.name, func(t *testing.T) {
			sim, srv, _ := start(t)
			checkError(t, tt.c, send(t, srv, tt.c, oauthHeader(consumerKey, merchantToken)), tt.status, tt.v11Code)
			if len(sim.Posts())+len(sim.DMs()) != 0 {
				t.Error("invalid request recorded")
			}
		})
	}
}

func TestAnswersCarryTheRecordedIDs(t *testing.T) {
	sim, srv, _ := start(t)
	auth := oauthHeader(consumerKey, merchantToken)
	a := send(t, srv, v2Reply, auth)
	data, _ := a.body["data"].(map[string]any)
	if a.status != http.StatusCreated || data["id"] != sim.Posts()[0].ID || data["text"] != "Check your DMs" {
		t.Errorf("v2 reply answer %d %v, recorded %+v", a.status, a.body, sim.Posts())
	}
	a = send(t, srv, v2DM, auth)
	data, _ = a.body["data"].(map[string]any)
	if a.status != http.StatusCreated || data["dm_event_id"] != sim.DMs()[0].ID || data["dm_conversation_id"] != "42-1111" {
		t.Errorf("v2 dm answer %d %v, recorded %+v", a.status, a.body, sim.DMs())
	}
	a = send(t, srv, v11Reply, auth)
	if a.status != http.StatusOK || a.body["id_str"] != sim.Posts()[1].ID || a.body["in_reply_to_status_id_str"] != "1790000000000000001" {
		t.Errorf("v1.1 reply answer %d %v, recorded %+v", a.status, a.body, sim.Posts())
	}
	a = send(t, srv, v11DM, auth)
	ev, _ := a.body["event"].(map[string]any)
	if a.status != http.StatusOK || ev["id"] != sim.DMs()[1].ID || ev["type"] != "message_create" {
		t.Errorf("v1.1 dm answer %d %v, recorded %+v", a.status, a.body, sim.DMs())
	}
}

func TestIDsAreUniqueIncreasingDecimalsEvenOnAFrozenClock(t *testing.T) {
	sim, srv, _ := start(t)
	c, _ := xapi.New("2", srv.URL, srv.Client())
	creds := xapi.Credentials{ConsumerKey: consumerKey, AccessToken: merchantToken}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = c.PostReply(context.Background(), creds, "1", "hi")
			} else {
				_, err = c.SendDM(context.Background(), creds, "42", "hi")
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var ids []string
	for _, p := range sim.Posts() {
		ids = append(ids, p.ID)
	}
	for _, d := range sim.DMs() {
		ids = append(ids, d.ID)
	}
	seen := map[string]bool{}
	var highest int64
	for _, id := range ids {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("id %q is not a positive int64", id)
		}
		if seen[id] {
			t.Errorf("id %s handed out twice", id)
		}
		seen[id], highest = true, max(highest, n)
	}
	if len(seen) != 40 {
		t.Fatalf("%d distinct ids, want 40", len(seen))
	}
	for _, list := range [][]string{ids[:20], ids[20:]} { // record order, posts then DMs
		for i := 1; i < len(list); i++ {
			a, _ := strconv.ParseInt(list[i-1], 10, 64)
			b, _ := strconv.ParseInt(list[i], 10, 64)
			if b <= a {
				t.Errorf("id %d recorded after %d", b, a)
			}
		}
	}

	sim.Reset()
	id, err := c.PostReply(context.Background(), creds, "1", "after reset")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.ParseInt(id, 10, 64); n <= highest {
		t.Errorf("id %d after Reset repeats the range before it (highest %d)", n, highest)
	}
}
