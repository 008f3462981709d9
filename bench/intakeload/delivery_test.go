package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/webhooks"
)

func TestDeliverySignedAsHashcartVerifies(t *testing.T) {
	d := newDeliveries("consumer-secret", "123456", "2244994945", 2)
	body, sig := d.build(7)
	// CRCResponse is hashcart's own sha256=base64(HMAC) of a message.
	if want := webhooks.CRCResponse("consumer-secret", string(body)); sig != want {
		t.Fatalf("signature %q, hashcart computes %q", sig, want)
	}
	// The hmac is reused between deliveries: the second must not carry state.
	body2, sig2 := d.build(8)
	if want := webhooks.CRCResponse("consumer-secret", string(body2)); sig2 != want {
		t.Fatalf("second signature %q, hashcart computes %q", sig2, want)
	}
}

func TestEventIDsUniqueAcrossDeliveriesAndRuns(t *testing.T) {
	seen := map[string]string{}
	for _, run := range []string{"000001", "000002"} {
		d := newDeliveries("s", run, "2244994945", 3)
		for seq := range uint64(50) {
			body, _ := d.build(seq)
			forUser, events, err := inbox.Split(body, time.Unix(0, 0))
			if err != nil {
				t.Fatalf("run %s delivery %d is not a valid delivery: %v\n%s", run, seq, err, body)
			}
			if forUser != "2244994945" {
				t.Fatalf("for_user_id %q", forUser)
			}
			if len(events) != 3 {
				t.Fatalf("%d events, want 3", len(events))
			}
			for _, ev := range events {
				if ev.Kind != inbox.KindTweetCreate {
					t.Fatalf("kind %q", ev.Kind)
				}
				id := strings.TrimPrefix(ev.ID, "tweet_create:")
				if len(id) != 19 || strings.Contains(ev.ID, "sha256") {
					t.Fatalf("event id %q is not a 19-digit X id", ev.ID)
				}
				where := run + "/" + string(rune('0'+seq%10))
				if prev, dup := seen[ev.ID]; dup {
					t.Fatalf("event id %s repeated (%s and %s): the server would deduplicate it", ev.ID, prev, where)
				}
				seen[ev.ID] = where
			}
		}
	}
}
