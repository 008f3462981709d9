package xsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// publish posts text as token through the v2 endpoint, replying to
// inReplyTo when set, and returns the new post's id.
func publish(t *testing.T, srv *httptest.Server, token, text, inReplyTo string) string {
	t.Helper()
	body := map[string]any{"text": text}
	if inReplyTo != "" {
		body["reply"] = map[string]any{"in_reply_to_tweet_id": inReplyTo}
	}
	raw, _ := json.Marshal(body)
	a := send(t, srv, call{"publish", "/2/tweets", "application/json", string(raw)}, oauthHeader(consumerKey, token))
	if a.status != http.StatusCreated {
		t.Fatalf("publish: status %d %v", a.status, a.body)
	}
	return a.body["data"].(map[string]any)["id"].(string)
}

// get makes an authenticated GET of path (with query q) as token and
// decodes the JSON answer into out; it returns the status.
func get(t *testing.T, srv *httptest.Server, token, path string, q url.Values, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", oauthHeader(consumerKey, token))
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("GET %s: answer %q is not JSON: %v", path, raw, err)
	}
	return resp.StatusCode
}

// timeline is a merchant's posts over two minutes, and another account's.
type timeline struct {
	first, plain, second, third string // 1111's posts, oldest first
	other                       string // 2222's post
	at                          []time.Time
}

func seedTimeline(t *testing.T, srv *httptest.Server, clock *testClock) timeline {
	t.Helper()
	t0 := clock.Now()
	var tl timeline
	tl.first = publish(t, srv, merchantToken, "Check your DMs", "1790000000000000001")
	tl.other = publish(t, srv, "2222-other", "not mine", "1790000000000000001")
	clock.Set(t0.Add(time.Minute))
	tl.plain = publish(t, srv, merchantToken, "Restocked! #BuyNow", "")
	tl.second = publish(t, srv, merchantToken, "Sold out, sorry", "1790000000000000002")
	clock.Set(t0.Add(2*time.Minute + 500*time.Millisecond))
	tl.third = publish(t, srv, merchantToken, "Sold   out &  gone", "1790000000000000002")
	tl.at = []time.Time{t0, t0.Add(time.Minute), t0.Add(time.Minute), t0.Add(2*time.Minute + 500*time.Millisecond)}
	return tl
}

type v2Page struct {
	Data []struct {
		ID               string   `json:"id"`
		Text             string   `json:"text"`
		CreatedAt        string   `json:"created_at"`
		EditHistory      []string `json:"edit_history_tweet_ids"`
		ReferencedTweets []struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"referenced_tweets"`
	} `json:"data"`
	Meta struct {
		ResultCount int    `json:"result_count"`
		NextToken   string `json:"next_token"`
		NewestID    string `json:"newest_id"`
		OldestID    string `json:"oldest_id"`
	} `json:"meta"`
	Detail string `json:"detail"`
}

func (p v2Page) ids() []string {
	var out []string
	for _, d := range p.Data {
		out = append(out, d.ID)
	}
	return out
}

func TestV2UserTweetsListsOnlyThatUsersPostsNewestFirstWithReplyReferences(t *testing.T) {
	_, srv, clock := start(t)
	tl := seedTimeline(t, srv, clock)
	var page v2Page
	status := get(t, srv, "9999-any-reader", "/2/users/1111/tweets", url.Values{
		"tweet.fields": {"created_at,referenced_tweets,in_reply_to_user_id,conversation_id"},
	}, &page)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, page.Detail)
	}
	if want := []string{tl.third, tl.second, tl.plain, tl.first}; !reflect.DeepEqual(page.ids(), want) {
		t.Fatalf("ids = %v, want %v (1111's posts only, newest first)", page.ids(), want)
	}
	if page.Meta.ResultCount != 4 || page.Meta.NewestID != tl.third || page.Meta.OldestID != tl.first || page.Meta.NextToken != "" {
		t.Errorf("meta = %+v", page.Meta)
	}
	third := page.Data[0]
	if third.Text != "Sold   out &  gone" || third.CreatedAt != tl.at[3].Truncate(time.Second).Format("2006-01-02T15:04:05.000Z") ||
		len(third.EditHistory) != 1 || third.EditHistory[0] != tl.third {
		t.Errorf("newest post = %+v", third)
	}
	if r := third.ReferencedTweets; len(r) != 1 || r[0].Type != "replied_to" || r[0].ID != "1790000000000000002" {
		t.Errorf("referenced_tweets = %+v, want replied_to 1790000000000000002", r)
	}
	if r := page.Data[2].ReferencedTweets; len(r) != 0 {
		t.Errorf("a post that replies to nothing has referenced_tweets %+v", r)
	}

	// Without tweet.fields only id, text and edit history come back.
	var bare v2Page
	get(t, srv, merchantToken, "/2/users/1111/tweets", nil, &bare)
	if len(bare.Data) != 4 || bare.Data[0].CreatedAt != "" || bare.Data[0].ReferencedTweets != nil {
		t.Errorf("without tweet.fields: %+v", bare.Data)
	}
}

func TestV2UserTweetsBoundsAndPages(t *testing.T) {
	_, srv, clock := start(t)
	tl := seedTimeline(t, srv, clock)
	cases := []struct {
		name  string
		query url.Values
		want  []string
	}{
		// start_time is inclusive and in whole seconds.
		{"start_time", url.Values{"start_time": {tl.at[1].Format(time.RFC3339)}}, []string{tl.third, tl.second, tl.plain}},
		{"start_time in the last post's second", url.Values{"start_time": {tl.at[3].Truncate(time.Second).Format(time.RFC3339)}}, []string{tl.third}},
		{"end_time", url.Values{"end_time": {tl.at[0].Format(time.RFC3339)}}, []string{tl.first}},
		{"since_id is exclusive", url.Values{"since_id": {tl.plain}}, []string{tl.third, tl.second}},
		{"until_id is exclusive", url.Values{"until_id": {tl.second}}, []string{tl.plain, tl.first}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var page v2Page
			if status := get(t, srv, merchantToken, "/2/users/1111/tweets", c.query, &page); status != http.StatusOK {
				t.Fatalf("status %d: %s", status, page.Detail)
			}
			if !reflect.DeepEqual(page.ids(), c.want) {
				t.Errorf("ids = %v, want %v", page.ids(), c.want)
			}
		})
	}

	// Pages of max_results follow each other through next_token, with no
	// post twice and none missed.
	for range 4 {
		publish(t, srv, merchantToken, "more", "1790000000000000003")
	}
	var all []string
	token := ""
	for pages := 0; ; pages++ {
		q := url.Values{"max_results": {"5"}}
		if token != "" {
			q.Set("pagination_token", token)
		}
		var page v2Page
		if status := get(t, srv, merchantToken, "/2/users/1111/tweets", q, &page); status != http.StatusOK {
			t.Fatalf("page %d: status %d: %s", pages, status, page.Detail)
		}
		all = append(all, page.ids()...)
		if token = page.Meta.NextToken; token == "" {
			break
		}
		if pages > 3 {
			t.Fatal("pages never end")
		}
	}
	if len(all) != 8 || all[7] != tl.first || all[4] != tl.third {
		t.Errorf("paged ids = %v, want the 8 posts newest first", all)
	}
}

func TestV2UserTweetsRefusesBadParameters(t *testing.T) {
	_, srv, _ := start(t)
	for _, q := range []url.Values{
		{"max_results": {"4"}},
		{"max_results": {"101"}},
		{"start_time": {"yesterday"}},
		{"since_id": {"abc"}},
		{"pagination_token": {"zzz"}},
	} {
		var page v2Page
		if status := get(t, srv, merchantToken, "/2/users/1111/tweets", q, &page); status != http.StatusBadRequest || page.Detail == "" {
			t.Errorf("%v: status %d detail %q, want 400 with a detail", q, status, page.Detail)
		}
	}
	var page v2Page
	if status := get(t, srv, "", "/2/users/1111/tweets", nil, &page); status != http.StatusUnauthorized {
		t.Errorf("unsigned: status %d, want 401", status)
	}
}

type v11Tweet struct {
	IDStr            string `json:"id_str"`
	Text             *string
	FullText         *string `json:"full_text"`
	CreatedAt        string  `json:"created_at"`
	InReplyToIDStr   *string `json:"in_reply_to_status_id_str"`
	DisplayTextRange []int   `json:"display_text_range"`
	User             struct {
		IDStr string `json:"id_str"`
	} `json:"user"`
}

func v11IDs(ts []v11Tweet) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.IDStr)
	}
	return out
}

func TestV11UserTimelineListsThatUsersPostsNewestFirst(t *testing.T) {
	_, srv, clock := start(t)
	tl := seedTimeline(t, srv, clock)
	var got []v11Tweet
	if status := get(t, srv, "9999-reader", "/1.1/statuses/user_timeline.json", url.Values{"user_id": {"1111"}, "tweet_mode": {"extended"}}, &got); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if want := []string{tl.third, tl.second, tl.plain, tl.first}; !reflect.DeepEqual(v11IDs(got), want) {
		t.Fatalf("ids = %v, want %v", v11IDs(got), want)
	}
	third := got[0]
	if third.FullText == nil || *third.FullText != "Sold   out &  gone" || third.Text != nil || len(third.DisplayTextRange) != 2 {
		t.Errorf("extended mode: full_text %v, text %v, range %v", third.FullText, third.Text, third.DisplayTextRange)
	}
	if third.InReplyToIDStr == nil || *third.InReplyToIDStr != "1790000000000000002" || third.User.IDStr != "1111" {
		t.Errorf("reply fields: %+v", third)
	}
	if at, err := time.Parse(time.RubyDate, third.CreatedAt); err != nil || !at.Equal(tl.at[3].Truncate(time.Second)) {
		t.Errorf("created_at %q (%v), want %v", third.CreatedAt, err, tl.at[3])
	}
	if got[2].InReplyToIDStr != nil {
		t.Errorf("a post that replies to nothing has in_reply_to_status_id_str %v", *got[2].InReplyToIDStr)
	}

	cases := []struct {
		name  string
		token string
		query url.Values
		want  []string
	}{
		{"no user_id: the caller's own", merchantToken, url.Values{}, []string{tl.third, tl.second, tl.plain, tl.first}},
		{"since_id exclusive", merchantToken, url.Values{"since_id": {tl.plain}}, []string{tl.third, tl.second}},
		{"max_id inclusive", merchantToken, url.Values{"max_id": {tl.second}}, []string{tl.second, tl.plain, tl.first}},
		{"count", merchantToken, url.Values{"count": {"2"}}, []string{tl.third, tl.second}},
		{"exclude_replies", merchantToken, url.Values{"exclude_replies": {"true"}}, []string{tl.plain}},
		{"another user", merchantToken, url.Values{"user_id": {"2222"}}, []string{tl.other}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []v11Tweet
			if status := get(t, srv, c.token, "/1.1/statuses/user_timeline.json", c.query, &got); status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			if !reflect.DeepEqual(v11IDs(got), c.want) {
				t.Errorf("ids = %v, want %v", v11IDs(got), c.want)
			}
			if len(got) > 0 && (got[0].Text == nil || got[0].FullText != nil) {
				t.Errorf("compat mode: text %v, full_text %v; want text only", got[0].Text, got[0].FullText)
			}
		})
	}

	var errBody map[string]any
	if status := get(t, srv, merchantToken, "/1.1/statuses/user_timeline.json", url.Values{"since_id": {"x"}}, &errBody); status != http.StatusBadRequest ||
		!strings.Contains(errBody["errors"].([]any)[0].(map[string]any)["message"].(string), "since_id") {
		t.Errorf("bad since_id: status %d, %v", status, errBody)
	}
}
