package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/bot/xapi"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/xsim"
)

// t0 is a whole second, so X's reset (whole unix seconds) is exact.
var t0 = time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)

// clock is the one fake clock shared by the database, the simulator and
// the sender.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var acmeCreds = xapi.Credentials{ConsumerKey: "ck", ConsumerSecret: "cs", AccessToken: "2244994945-acme", AccessSecret: "as"}

func credentials(merchantID string) (xapi.Credentials, bool) {
	if merchantID == "acme" || merchantID == "globex" {
		c := acmeCreds
		c.AccessToken = "2244994945-" + merchantID
		return c, true
	}
	return xapi.Credentials{}, false
}

// fakeMinter mints links without storing tokens.
type fakeMinter struct {
	mu    sync.Mutex
	calls []outbox.Link
	fail  int // how many of the next calls fail
}

func (f *fakeMinter) Mint(ctx context.Context, buyerID string, target commerce.LinkTarget, expiresAt time.Time) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return "", errors.New("token store unavailable")
	}
	f.calls = append(f.calls, outbox.Link{BuyerID: buyerID, Target: target, ExpiresAt: expiresAt})
	return fmt.Sprintf("https://shop.test/checkout/secret-%d", len(f.calls)), nil
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one database, one simulator and a way to make senders for them.
type env struct {
	t     *testing.T
	db    *storage.DB
	clock *clock
	sim   *xsim.Server
	x     xapi.Client
	links *fakeMinter
	logs  *syncBuffer
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	c := &clock{now: t0}
	storagetest.Each(t, storagetest.Options{Now: c.Now}, func(t *testing.T, db *storage.DB) {
		c.mu.Lock()
		c.now = t0
		c.mu.Unlock()
		fn(t, newEnv(t, db, c, "2"))
	})
}

func newEnv(t *testing.T, db *storage.DB, c *clock, version string) *env {
	sim := xsim.New(xsim.Options{ConsumerKey: acmeCreds.ConsumerKey, ConsumerSecret: acmeCreds.ConsumerSecret, Now: c.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	x, err := xapi.New(version, srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, clock: c, sim: sim, x: x, links: &fakeMinter{}, logs: &syncBuffer{}}
}

func (e *env) sender(cfg outbox.Config) *outbox.Sender {
	return &outbox.Sender{
		Store:       e.db.Outbox(),
		Client:      e.x,
		Credentials: credentials,
		Links:       e.links,
		Config:      cfg,
		Now:         e.clock.Now,
		Log:         slog.New(slog.NewTextHandler(e.logs, nil)),
	}
}

func (e *env) enqueue(msgs ...outbox.Message) {
	e.t.Helper()
	if err := e.db.Outbox().Enqueue(context.Background(), msgs...); err != nil {
		e.t.Fatalf("enqueue: %v", err)
	}
}

// drain runs passes until one finds nothing due.
func drain(t *testing.T, s *outbox.Sender) {
	t.Helper()
	for i := 0; ; i++ {
		n, err := s.SendDue(context.Background())
		if err != nil {
			t.Fatalf("send pass: %v", err)
		}
		if n == 0 {
			return
		}
		if i > 10000 {
			t.Fatal("outbox never drained")
		}
	}
}

func (e *env) status(key string) outbox.Status {
	e.t.Helper()
	m, ok, err := e.db.Outbox().Get(context.Background(), key)
	if err != nil || !ok {
		e.t.Fatalf("get %q: %v, found %v", key, err, ok)
	}
	return m.Status
}

func dm(key, to, text string, priority int) outbox.Message {
	return outbox.Message{Key: key, MerchantID: "acme", Kind: outbox.KindDM, Priority: priority, RecipientID: to, Text: text}
}

func reply(key, to, text string, priority int) outbox.Message {
	return outbox.Message{Key: key, MerchantID: "acme", Kind: outbox.KindReply, Priority: priority, InReplyTo: to, Text: text}
}
