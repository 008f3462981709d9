package inbox

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestSplitNamesEventsByXID(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name, body string
		forUser    string
		ids        []string
	}{
		{"tweet id_str", `{"for_user_id":"42","tweet_create_events":[{"id_str":"1001","id":1001,"text":"x"}]}`, "42", []string{"tweet_create:1001"}},
		{"tweet numeric id only, kept exact", `{"for_user_id":42,"tweet_create_events":[{"id":18600000000000000021,"text":"x"}]}`, "42", []string{"tweet_create:18600000000000000021"}},
		{"dm id", `{"for_user_id":"42","direct_message_events":[{"type":"message_create","id":"77"}],"users":{"9":{}}}`, "42", []string{"direct_message:77"}},
		{"tweet_delete nested id", `{"for_user_id":"42","tweet_delete_events":[{"status":{"id":"55","user_id":"9"}}]}`, "42", []string{"tweet_delete:55"}},
		{"favorite id", `{"for_user_id":"42","favorite_events":[{"id":"f1"}]}`, "42", []string{"favorite:f1"}},
		{"no id: digest", `{"for_user_id":"42","follow_events":[{"type":"follow"}]}`, "42", []string{"follow:sha256:" + digestOf(`{"type":"follow"}`)}},
		{"empty id_str falls back to id", `{"for_user_id":"42","tweet_create_events":[{"id_str":"","id":"9"}]}`, "42", []string{"tweet_create:9"}},
		{"arrays sorted by key, order kept within", `{"for_user_id":"42","tweet_create_events":[{"id_str":"2"},{"id_str":"1"}],"favorite_events":[{"id":"f"}]}`, "42",
			[]string{"favorite:f", "tweet_create:2", "tweet_create:1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forUser, evs, err := Split([]byte(tc.body), now)
			if err != nil {
				t.Fatal(err)
			}
			if forUser != tc.forUser {
				t.Errorf("for user = %q, want %q", forUser, tc.forUser)
			}
			var ids []string
			for _, ev := range evs {
				ids = append(ids, ev.ID)
				if !ev.ReceivedAt.Equal(now) || ev.ForUserID != tc.forUser {
					t.Errorf("event %s: received %v for %q", ev.ID, ev.ReceivedAt, ev.ForUserID)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.ids) {
				t.Errorf("ids = %v, want %v", ids, tc.ids)
			}
		})
	}
}

func TestSplitRefusesWhatIsNotADelivery(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `{"tweet_create_events":[]}`, `{"for_user_id":""}`, `{"for_user_id":{}}`,
		`{"for_user_id":"1","tweet_create_events":{}}`, `{"for_user_id":"1","tweet_create_events":[1]}`,
		`{"for_user_id":"1"} {}`, `{"for_user_id":"1","tweet_create_events":[{"id_str":"1"}]`,
	} {
		if _, _, err := Split([]byte(body), time.Now()); !errors.Is(err, ErrMalformed) {
			t.Errorf("Split(%q) = %v, want ErrMalformed", body, err)
		}
	}
}

func TestSplitKeepsUsersForDirectMessagesOnly(t *testing.T) {
	body := `{"for_user_id":"42","direct_message_events":[{"id":"1"}],"tweet_create_events":[{"id_str":"2"}],"users":{"9":{"name":"a"}}}`
	_, evs, err := Split([]byte(body), time.Now())
	if err != nil || len(evs) != 2 {
		t.Fatalf("Split = %v, %v", evs, err)
	}
	if string(evs[0].Users) != `{"9":{"name":"a"}}` || evs[1].Users != nil {
		t.Errorf("users = %q / %q", evs[0].Users, evs[1].Users)
	}
	if string(evs[1].Payload) != `{"id_str":"2"}` {
		t.Errorf("payload = %q, want the event object as sent", evs[1].Payload)
	}
}

// BenchmarkSplit is a delivery as bench/intakeload sends it: one reply.
func BenchmarkSplit(b *testing.B) {
	body := []byte(`{"for_user_id":"2244994945","tweet_create_events":[{"id_str":"1912345600000000042","text":"@acme #BuyNow","user":{"id_str":"1042","screen_name":"shopper42"},"in_reply_to_status_id_str":"1860000000000000002"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Split(body, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

func digestOf(s string) string {
	ev := eventID("x", []byte(s))
	return ev[len("x:sha256:"):]
}

// splitSeeds are deliveries as X sends them and the odd shapes a JSON
// object can take that splitFast must leave to encoding/json.
var splitSeeds = []string{
	`{"for_user_id":"2244994945","tweet_create_events":[{"id_str":"1912345600000000042","text":"@acme #BuyNow","user":{"id_str":"1042","screen_name":"shopper42"},"in_reply_to_status_id_str":"1860000000000000002"}]}`,
	`{"for_user_id":"42","direct_message_events":[{"type":"message_create","id":"77","message_create":{"target":{"recipient_id":"42"},"sender_id":"9","message_data":{"text":"buy \"x\" \u00e9"}}}],"users":{"9":{"name":"a"}}}`,
	` { "for_user_id" : 42 , "tweet_create_events" : [ { "id" : 18600000000000000021 , "text" : "x" } , {"id_str":"","id":"9"} ] } `,
	`{"for_user_id":"42","tweet_delete_events":[{"status":{"id":"55","user_id":"9"}}],"favorite_events":[{"id":"f1"}],"follow_events":[{"type":"follow"}]}`,
	`{"for_user_id":"42","tweet_create_events":[{"ID_STR":"5","id":"6"}]}`,
	`{"for_user_id":"42","tweet_create_events":[{"id_str":"5","id_str":"6"}]}`,
	`{"for_user_id":"42","for_user_id":"43","tweet_create_events":[]}`,
	`{"for_user_id":"4\u0032","tweet_create_events":[{"id_str":"1\"2"}]}`,
	`{"for_user_id":"42","tweet_delete_events":[{"status":"gone","id":"1"}],"users":null}`,
	`{"for_user_id":"42","tweet_delete_events":[{"status":null},{"status":{"Id":"3"}},{"status":{"id":[1]}}]}`,
	`{"for_user_id":"42","tweet_create_events":[{"id_str":true},{"id":{"a":1}},{"id":null,"id_str":null}]}`,
	`{"for_user_id":"42","tweet_create_events":[{"id_str":"1"}],"direct_message_events":[{"id":"2"}],"direct_messages_events":[{"id":"3"}]}`,
	`{"for_user_id":-1.5e3,"x_events":[{}],"\u0074weet_create_events":[{"id":"1"}]}`,
	`{"for_user_id":"1","tweet_create_events":[1]}`, `{"for_user_id":"1"} {}`, `[]`, `{}`, ``,
}

// The fast scanner answers exactly as encoding/json does, for every input
// it does not leave to it.
func FuzzSplit(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		forUser, evs, ok := splitFast(body, now)
		if !ok {
			return
		}
		wantUser, want, err := splitSlow(body, now)
		if err != nil {
			t.Fatalf("fast split accepted what encoding/json refuses (%v): %q", err, body)
		}
		if forUser != wantUser || len(evs) != len(want) {
			t.Fatalf("fast split = %q with %d events, want %q with %d", forUser, len(evs), wantUser, len(want))
		}
		for i := range evs {
			g, w := evs[i], want[i]
			if g.ID != w.ID || g.Kind != w.Kind || g.ForUserID != w.ForUserID || string(g.Payload) != string(w.Payload) ||
				string(g.Users) != string(w.Users) || (g.Users == nil) != (w.Users == nil) || !g.ReceivedAt.Equal(w.ReceivedAt) {
				t.Fatalf("event %d = %+v, want %+v", i, g, w)
			}
		}
	})
}

// What X sends goes the fast way (the slow one costs four times the CPU).
func TestSplitReadsXDeliveriesWithoutDecoding(t *testing.T) {
	for _, s := range splitSeeds[:4] {
		if _, _, ok := splitFast([]byte(s), time.Now()); !ok {
			t.Errorf("left to encoding/json: %s", s)
		}
	}
}
