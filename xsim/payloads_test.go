package xsim_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hashcart/hashcart/xsim"
)

// roundTrip encodes v as JSON and decodes it back, as a webhook receiver sees it.
func roundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTweetCreateCarriesAReplyAsX(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 5, 0, time.UTC)
	p := roundTrip(t, xsim.TweetCreate("1111", xsim.Tweet{
		ID: "1790000000000000002", Text: "@shop #BuyNow please", UserID: "42", ScreenName: "shopper",
		InReplyToStatusID: "1790000000000000001", InReplyToUserID: "1111", InReplyToScreenName: "shop", At: at,
	}))
	if p["for_user_id"] != "1111" {
		t.Errorf("for_user_id = %v", p["for_user_id"])
	}
	events := p["tweet_create_events"].([]any)
	if len(events) != 1 {
		t.Fatalf("%d events", len(events))
	}
	tw := events[0].(map[string]any)
	want := map[string]any{
		"id_str":                    "1790000000000000002",
		"text":                      "@shop #BuyNow please",
		"created_at":                "Sun Mar 01 12:30:05 +0000 2026",
		"timestamp_ms":              "1772368205000",
		"in_reply_to_status_id_str": "1790000000000000001",
		"in_reply_to_user_id_str":   "1111",
		"in_reply_to_screen_name":   "shop",
		"is_quote_status":           false,
	}
	for k, v := range want {
		if tw[k] != v {
			t.Errorf("%s = %v, want %v", k, tw[k], v)
		}
	}
	if id, _ := tw["id"].(float64); id == 0 {
		t.Errorf("numeric id missing: %v", tw["id"])
	}
	user := tw["user"].(map[string]any)
	if user["id_str"] != "42" || user["screen_name"] != "shopper" || user["name"] == nil {
		t.Errorf("user = %v", user)
	}
	tags := tw["entities"].(map[string]any)["hashtags"]
	wantTags := []any{map[string]any{"text": "BuyNow", "indices": []any{6.0, 13.0}}}
	if !reflect.DeepEqual(tags, wantTags) {
		t.Errorf("hashtags = %v, want %v", tags, wantTags)
	}
	if _, ok := tw["retweeted_status"]; ok {
		t.Error("retweeted_status on a plain reply")
	}
}

func TestTweetCreateMarksRetweetsAndQuotes(t *testing.T) {
	tests := []struct {
		name      string
		tweet     xsim.Tweet
		wantRT    bool
		wantQuote bool
	}{
		{"original", xsim.Tweet{ID: "5", Text: "#BuyNow"}, false, false},
		{"retweet", xsim.Tweet{ID: "5", Text: "RT @shop: #BuyNow", Retweet: true, OriginalID: "4"}, true, false},
		{"quote", xsim.Tweet{ID: "5", Text: "look #BuyNow", Quote: true, OriginalID: "4"}, false, true},
	}
	for _, tt := range tests {
		tw := roundTrip(t, xsim.TweetCreate("1", tt.tweet))["tweet_create_events"].([]any)[0].(map[string]any)
		rt, hasRT := tw["retweeted_status"].(map[string]any)
		q, hasQ := tw["quoted_status"].(map[string]any)
		if hasRT != tt.wantRT || hasQ != tt.wantQuote || tw["is_quote_status"] != tt.wantQuote {
			t.Errorf("%s: retweeted_status %v, quoted_status %v, is_quote_status %v", tt.name, hasRT, hasQ, tw["is_quote_status"])
		}
		if hasRT && rt["id_str"] != "4" || hasQ && q["id_str"] != "4" {
			t.Errorf("%s: original id not carried: %v %v", tt.name, rt, q)
		}
		if tw["in_reply_to_status_id_str"] != nil {
			t.Errorf("%s: in_reply_to_status_id_str = %v, want null", tt.name, tw["in_reply_to_status_id_str"])
		}
	}
}

func TestHashtagEntitiesFollowWordBoundaries(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"#BuyNow", []string{"BuyNow"}},
		{"yes #BuyNow, #AddToCart!", []string{"BuyNow", "AddToCart"}},
		{"mail me a#BuyNow", nil},
		{"#123 is not a tag", nil},
		{"#2024sale counts", []string{"2024sale"}},
		{"café #Café_au_lait", []string{"Café_au_lait"}},
		{"##BuyNow", []string{"BuyNow"}},
		{"#", nil},
	}
	for _, tt := range tests {
		tw := roundTrip(t, xsim.TweetCreate("1", xsim.Tweet{ID: "1", Text: tt.text}))["tweet_create_events"].([]any)[0].(map[string]any)
		var got []string
		for _, h := range tw["entities"].(map[string]any)["hashtags"].([]any) {
			got = append(got, h.(map[string]any)["text"].(string))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("hashtags(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestDirectMessagePayloadAsX(t *testing.T) {
	at := time.UnixMilli(1772368205123)
	got := roundTrip(t, xsim.DirectMessage("1111", "9001", "42", "1111", "shopper", "#BuyNow 2", at))
	want := map[string]any{
		"for_user_id": "1111",
		"direct_message_events": []any{map[string]any{
			"type":              "message_create",
			"id":                "9001",
			"created_timestamp": "1772368205123",
			"message_create": map[string]any{
				"target":    map[string]any{"recipient_id": "1111"},
				"sender_id": "42",
				"message_data": map[string]any{
					"text": "#BuyNow 2",
					"entities": map[string]any{
						"hashtags":      []any{map[string]any{"text": "BuyNow", "indices": []any{0.0, 7.0}}},
						"user_mentions": []any{}, "urls": []any{}, "symbols": []any{},
					},
				},
			},
		}},
		"users": map[string]any{
			"42":   map[string]any{"id": "42", "screen_name": "shopper", "name": "shopper"},
			"1111": map[string]any{"id": "1111"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Errorf("DirectMessage =\n%s\nwant\n%s", gj, wj)
	}
}

func TestFavoriteAndFollowPayloads(t *testing.T) {
	fav := roundTrip(t, xsim.Favorite("1111", "fav-1", "42", "1790000000000000001"))
	ev := fav["favorite_events"].([]any)[0].(map[string]any)
	if fav["for_user_id"] != "1111" || ev["id"] != "fav-1" ||
		ev["favorited_status"].(map[string]any)["id_str"] != "1790000000000000001" ||
		ev["user"].(map[string]any)["id_str"] != "42" {
		t.Errorf("Favorite = %v", fav)
	}
	fol := roundTrip(t, xsim.Follow("1111", "42", "1111"))
	fe := fol["follow_events"].([]any)[0].(map[string]any)
	if fol["for_user_id"] != "1111" || fe["type"] != "follow" || fe["created_timestamp"] == nil ||
		fe["source"].(map[string]any)["id"] != "42" || fe["target"].(map[string]any)["id"] != "1111" {
		t.Errorf("Follow = %v", fol)
	}
}
