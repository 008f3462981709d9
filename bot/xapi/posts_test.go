package xapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/xapi"
)

func postLister(t *testing.T, version, baseURL string, hc *http.Client) xapi.PostLister {
	t.Helper()
	c, err := xapi.New(version, baseURL, hc)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := c.(xapi.PostLister)
	if !ok {
		t.Fatalf("the v%s client does not list posts", version)
	}
	return l
}

func TestSentPostsSendsSignedTimelineRequests(t *testing.T) {
	since := time.Date(2026, 3, 1, 12, 0, 0, 700_000_000, time.UTC)
	tests := []struct {
		version, answer, wantPath string
		want                      url.Values
	}{
		{
			version:  "2",
			answer:   `{"meta":{"result_count":0}}`,
			wantPath: "/x/2/users/1111/tweets",
			want: url.Values{
				"max_results":  {"100"},
				"start_time":   {"2026-03-01T12:00:00Z"}, // whole seconds, inclusive
				"exclude":      {"retweets"},
				"tweet.fields": {"created_at,referenced_tweets,in_reply_to_user_id,conversation_id"},
			},
		},
		{
			version:  "1.1",
			answer:   `[]`,
			wantPath: "/x/1.1/statuses/user_timeline.json",
			want: url.Values{
				"user_id": {"1111"},
				"count":   {"200"},
				// The largest id X could give a post before 12:00:00.
				"since_id":        {strconv.FormatInt((time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli()-1288834974657)<<22-1, 10)},
				"trim_user":       {"true"},
				"exclude_replies": {"false"},
				"include_rts":     {"false"},
				"tweet_mode":      {"extended"},
			},
		},
	}
	for _, tc := range tests {
		t.Run("v"+tc.version, func(t *testing.T) {
			var mu sync.Mutex
			var gotPath string
			var gotQuery url.Values
			var sigErr error
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				mu.Lock()
				gotPath, gotQuery = r.Method+" "+r.URL.Path, r.URL.Query()
				sigErr = verifySignature(r, nil, testCreds.ConsumerSecret, testCreds.AccessSecret)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tc.answer)
			}))
			defer srv.Close()
			posts, err := postLister(t, tc.version, srv.URL+"/x", srv.Client()).SentPosts(context.Background(), testCreds, xapi.PostQuery{Since: since})
			if err != nil || len(posts) != 0 {
				t.Fatalf("SentPosts = %v, %v; want none, nil", posts, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if gotPath != "GET "+tc.wantPath {
				t.Errorf("request %q, want GET %s", gotPath, tc.wantPath)
			}
			if !reflect.DeepEqual(gotQuery, tc.want) {
				t.Errorf("query %v\nwant  %v", gotQuery, tc.want)
			}
			if sigErr != nil {
				t.Errorf("signature: %v", sigErr)
			}
		})
	}
}

func TestSentPostsAgainstSimulatorListsTheAccountsRepliesSinceATime(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run("v"+version, func(t *testing.T) {
			ctx := context.Background()
			sim, srv, clock := newSim(t)
			c, _ := xapi.New(version, srv.URL, srv.Client())
			other := testCreds
			other.AccessToken = "2222-other-token"
			t0 := clock.Now()
			if _, err := c.PostReply(ctx, testCreds, "1790000000000000001", "before the window"); err != nil {
				t.Fatal(err)
			}
			clock.Set(t0.Add(time.Minute + 300*time.Millisecond))
			since := clock.Now()
			first, err := c.PostReply(ctx, testCreds, "1790000000000000002", "Sold out & gone")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.PostReply(ctx, other, "1790000000000000002", "not ours"); err != nil {
				t.Fatal(err)
			}
			clock.Set(t0.Add(2 * time.Minute))
			second, err := c.PostReply(ctx, testCreds, "1790000000000000003", "Check your DMs")
			if err != nil {
				t.Fatal(err)
			}

			l := c.(xapi.PostLister)
			got, err := l.SentPosts(ctx, testCreds, xapi.PostQuery{Since: since})
			if err != nil {
				t.Fatal(err)
			}
			want := []xapi.SentPost{
				{ID: second, Text: "Check your DMs", InReplyTo: "1790000000000000003", CreatedAt: t0.Add(2 * time.Minute)},
				{ID: first, Text: "Sold out & gone", InReplyTo: "1790000000000000002", CreatedAt: since.Truncate(time.Second)},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("SentPosts = %+v\nwant %+v", got, want)
			}

			// UserID names the account when set.
			asOther := testCreds
			asOther.UserID = "2222"
			got, err = l.SentPosts(ctx, asOther, xapi.PostQuery{Since: since})
			if err != nil || len(got) != 1 || got[0].Text != "not ours" {
				t.Errorf("SentPosts of 2222 = %+v, %v; want its one post", got, err)
			}

			// Faults come back as the send paths' errors do.
			sim.RateLimitUntil(clock.Now().Add(time.Minute))
			_, err = l.SentPosts(ctx, testCreds, xapi.PostQuery{Since: since})
			if _, limited := xapi.RateLimited(err); !limited {
				t.Errorf("rate limited: err = %v, want RateLimited", err)
			}
			sim.RateLimitUntil(time.Time{})
			sim.FailNext(1, http.StatusServiceUnavailable)
			if _, err = l.SentPosts(ctx, testCreds, xapi.PostQuery{Since: since}); !xapi.IsRetryable(err) {
				t.Errorf("503: err = %v, want retryable", err)
			}
			if n := len(sim.Posts()); n != 4 {
				t.Errorf("posts recorded = %d, want 4 (listing posts nothing)", n)
			}
		})
	}
}

func TestSentPostsFollowsPagesUpToMax(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run("v"+version, func(t *testing.T) {
			ctx := context.Background()
			sim, srv, clock := newSim(t)
			c, _ := xapi.New(version, srv.URL, srv.Client())
			since := clock.Now()
			for i := range 250 {
				clock.Set(since.Add(time.Duration(i) * 10 * time.Millisecond))
				if _, err := c.PostReply(ctx, testCreds, "1790000000000000001", "reply "+strconv.Itoa(i)); err != nil {
					t.Fatal(err)
				}
			}
			l := c.(xapi.PostLister)
			before := sim.Requests()
			got, err := l.SentPosts(ctx, testCreds, xapi.PostQuery{Since: since})
			if err != nil || len(got) != 250 || got[0].Text != "reply 249" || got[249].Text != "reply 0" {
				t.Fatalf("SentPosts = %d posts, %v; want all 250, newest first", len(got), err)
			}
			seen := map[string]bool{}
			for _, p := range got {
				if seen[p.ID] {
					t.Fatalf("post %s listed twice", p.ID)
				}
				seen[p.ID] = true
			}
			if n := sim.Requests() - before; n < 2 {
				t.Errorf("%d requests for 250 posts; want pages", n)
			}
			got, err = l.SentPosts(ctx, testCreds, xapi.PostQuery{Since: since, Max: 50})
			if !errors.Is(err, xapi.ErrTooManyPosts) || len(got) == 0 || got[0].Text != "reply 249" {
				t.Errorf("Max 50: %d posts, %v; want the newest read and ErrTooManyPosts", len(got), err)
			}
		})
	}
}

func TestSentPostsRefusesQueriesItCannotBound(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		sim, srv, clock := newSim(t)
		l := postLister(t, version, srv.URL, srv.Client())
		noID := testCreds
		noID.AccessToken = "opaque-token"
		if _, err := l.SentPosts(context.Background(), noID, xapi.PostQuery{Since: clock.Now()}); err == nil {
			t.Errorf("v%s: no user id: no error", version)
		}
		if _, err := l.SentPosts(context.Background(), testCreds, xapi.PostQuery{}); err == nil {
			t.Errorf("v%s: no Since: no error", version)
		}
		if n := sim.Requests(); n != 0 {
			t.Errorf("v%s: %d requests made, want 0", version, n)
		}
	}
}
