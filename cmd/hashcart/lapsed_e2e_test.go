package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/xsim"
)

// kill -9 after X accepted the public "check your DMs" reply but before
// hashcart heard so (X holds the answer until the process is dead), then
// restart: when the lease runs out, the new process finds the reply among
// the merchant's posts and records it; the shopper sees one reply.
func TestKilledMidReplyPostsItOnce(t *testing.T) {
	for _, v := range []string{"2", "1.1"} {
		t.Run("x_api_"+v, func(t *testing.T) { killedMidReply(t, v) })
	}
}

func killedMidReply(t *testing.T, apiVersion string) {
	sim := xsim.New(xsim.Options{ConsumerKey: "e2e-consumer-key", ConsumerSecret: testSecret})
	var holding atomic.Bool
	holding.Store(true)
	posted := make(chan struct{})
	var once sync.Once
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isPost := r.Method == http.MethodPost && (r.URL.Path == "/2/tweets" || r.URL.Path == "/1.1/statuses/update.json")
		if !isPost || !holding.Load() {
			sim.ServeHTTP(w, r)
			return
		}
		// X takes the post, and the answer never reaches the sender.
		sim.ServeHTTP(httptest.NewRecorder(), r)
		once.Do(func() { close(posted) })
		select {
		case <-r.Context().Done(): // the process died
		case <-time.After(30 * time.Second):
		}
	}))
	t.Cleanup(api.Close)
	drv, dsn := storagetest.DSN(t, storage.DriverSQLite)
	port := freePort(t)
	// The request timeout is half the lease (3s): the kill comes first.
	path := writeShopConfig(t, port, drv, dsn, api.URL, apiVersion, "outbox: { poll_interval: 50ms, lease: 6s }")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := &shop{instance: start(t, path, base), sim: sim, db: openDB(t, drv, dsn), driver: drv, dsn: dsn}

	s.deliver(t, replyTo("1001", 1, "@acme #BuyNow red x2"))
	select {
	case <-posted:
	case <-time.After(30 * time.Second):
		t.Fatal("the public reply never reached X")
	}
	s.stop(syscall.SIGKILL)
	holding.Store(false)
	posts := sim.Posts()
	if len(posts) != 1 || posts[0].InReplyTo != "5001" {
		t.Fatalf("posts at the kill = %+v, want the one reply to 5001", posts)
	}

	s.instance = start(t, path, base)
	s.settle(t) // the lease (6s) runs out, and the reply is claimed again
	const key = "tweet_create:5001:reply_check_dms"
	got, ok, err := s.db.Outbox().Get(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("outbox %s: found %v, %v", key, ok, err)
	}
	if got.Status != outbox.StatusSent || got.XID != posts[0].ID {
		t.Errorf("%s: status %s, x id %q; want sent with the id X gave before the kill (%s)", key, got.Status, got.XID, posts[0].ID)
	}
	if after := sim.Posts(); len(after) != 1 {
		t.Fatalf("%d public replies after the restart, want 1: %+v", len(after), after)
	}
	if dms := sim.DMs(); len(dms) != 1 {
		t.Errorf("%d DMs, want the one checkout link", len(dms))
	}
}
