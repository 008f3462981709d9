package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
)

func TestSameKeyEnqueuedTwiceIsSentOnce(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		m := dm("tweet_create:1:dm_checkout", "42", "your checkout", outbox.PriorityCheckout)
		for i := 0; i < 2; i++ {
			err := e.db.InTx(ctx, func(ctx context.Context) error { return e.db.Outbox().Enqueue(ctx, m) })
			if err != nil {
				t.Fatalf("enqueue %d: %v", i+1, err)
			}
		}
		s := e.sender(outbox.Config{})
		drain(t, s)
		e.enqueue(m) // after it was sent, too
		drain(t, s)
		if got := len(e.sim.DMs()); got != 1 {
			t.Fatalf("dms sent = %d, want 1", got)
		}
		if st := s.Stats(); st.Sent != 1 {
			t.Errorf("stats = %+v, want 1 sent", st)
		}
	})
}

func TestHigherPriorityIsSentFirst(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.enqueue(
			dm("soldout", "41", "sold out", outbox.PrioritySoldOut),
			dm("reminder", "42", "reminder", outbox.PriorityReminder),
			dm("checkout-a", "43", "checkout a", outbox.PriorityCheckout),
			dm("confirm", "44", "confirmation", outbox.PriorityConfirmation),
			dm("checkout-b", "45", "checkout b", outbox.PriorityCheckout),
		)
		drain(t, e.sender(outbox.Config{Batch: 2}))
		var got []string
		for _, d := range e.sim.DMs() {
			got = append(got, d.Text)
		}
		want := "checkout a,checkout b,confirmation,reminder,sold out"
		if strings.Join(got, ",") != want {
			t.Fatalf("sent in order %v, want %s", got, want)
		}
	})
}

func TestOnSentReplyFollowsTheDM(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		m := dm("tweet_create:7:dm_checkout", "42", "pay here", outbox.PriorityCheckout)
		r := reply("tweet_create:7:reply_check_dms", "1860000000000000007", "check your DMs", outbox.PriorityCheckout)
		m.OnSent = &r
		e.enqueue(m)
		s := e.sender(outbox.Config{})
		if _, err := s.SendDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(e.sim.DMs()) != 1 || len(e.sim.Posts()) != 0 {
			t.Fatalf("after one pass: %d dms, %d posts; want the DM only", len(e.sim.DMs()), len(e.sim.Posts()))
		}
		if e.status(r.Key) != outbox.StatusPending {
			t.Fatalf("reply not enqueued with the DM marked sent")
		}
		drain(t, s)
		posts := e.sim.Posts()
		if len(posts) != 1 || posts[0].InReplyTo != r.InReplyTo || posts[0].Text != r.Text {
			t.Fatalf("posts = %+v, want the one reply", posts)
		}
		got, _, _ := e.db.Outbox().Get(context.Background(), m.Key)
		if got.Status != outbox.StatusSent || got.XID != e.sim.DMs()[0].ID {
			t.Fatalf("dm row = %+v, want sent with X's id %s", got, e.sim.DMs()[0].ID)
		}
	})
}

func TestClosedDMsGetThePublicFallbackAndNoRetry(t *testing.T) {
	for _, version := range []string{"2", "1.1"} {
		t.Run("v"+version, func(t *testing.T) {
			each(t, func(t *testing.T, e *env) {
				e = newEnv(t, e.db, e.clock, version)
				e.sim.CloseDMs("42", true)
				m := dm("tweet_create:8:dm_checkout", "42", "pay here", outbox.PriorityCheckout)
				fb := reply("tweet_create:8:reply_dm_closed", "1860000000000000008", "open your DMs", outbox.PriorityCheckout)
				m.OnDMClosed = &fb
				e.enqueue(m)
				s := e.sender(outbox.Config{})
				drain(t, s)
				e.clock.Advance(time.Hour - time.Second) // any retry would be due by now
				drain(t, s)
				if n := e.sim.Requests(); n != 2 {
					t.Errorf("requests = %d, want 2 (one refused DM, one reply)", n)
				}
				if posts := e.sim.Posts(); len(posts) != 1 || posts[0].Text != fb.Text {
					t.Fatalf("posts = %+v, want the fallback reply", posts)
				}
				if st := e.status(m.Key); st != outbox.StatusUndeliverable {
					t.Errorf("dm status = %s, want undeliverable", st)
				}
			})
		})
	}
}

func TestServerErrorsAreRetriedWithBackoffThenSentOnce(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.sim.FailNext(2, http.StatusInternalServerError)
		m := dm("tweet_create:9:dm_checkout", "42", "pay here", outbox.PriorityCheckout)
		e.enqueue(m)
		s := e.sender(outbox.Config{})
		waits := []time.Duration{time.Second, 2 * time.Second}
		for i, wait := range waits {
			drain(t, s)
			if got := e.sim.Requests(); got != i+1 {
				t.Fatalf("requests after failure %d = %d, want %d", i+1, got, i+1)
			}
			// Backoff with jitter is between 3/4 of the wait and the wait.
			e.clock.Advance(wait * 3 / 4 / 2)
			drain(t, s)
			if got := e.sim.Requests(); got != i+1 {
				t.Fatalf("retried before the backoff: %d requests", got)
			}
			e.clock.Advance(wait)
		}
		drain(t, s)
		if got := len(e.sim.DMs()); got != 1 {
			t.Fatalf("dms = %d, want 1", got)
		}
		if st := s.Stats(); st.FailedAttempts != 2 || st.Sent != 1 {
			t.Errorf("stats = %+v, want 2 failed attempts and 1 sent", st)
		}
	})
}

func TestClientErrorFailsForGood(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.sim.FailNext(1, http.StatusBadRequest)
		m := dm("k", "42", "pay here", outbox.PriorityCheckout)
		e.enqueue(m)
		s := e.sender(outbox.Config{})
		drain(t, s)
		e.clock.Advance(10 * time.Minute)
		drain(t, s)
		if e.sim.Requests() != 1 || e.status(m.Key) != outbox.StatusFailed {
			t.Fatalf("requests = %d, status %s; want 1 request and failed", e.sim.Requests(), e.status(m.Key))
		}
		if !strings.Contains(e.logs.String(), "outbox message failed") {
			t.Errorf("no log line for the failure:\n%s", e.logs)
		}
	})
}

// The simulator answers 429 with a reset 2 s ahead for 10 s: every message
// arrives after the reset, none lost, none twice, and no request is made
// before a reset.
func TestRateLimitedAccountWaitsForTheReset(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const n = 30
		for i := range n {
			e.enqueue(dm(fmt.Sprintf("k%d", i), fmt.Sprint(100+i), fmt.Sprintf("msg %d", i), outbox.PriorityCheckout))
		}
		end := t0.Add(10 * time.Second)
		s := e.sender(outbox.Config{Batch: 7})
		requests := 0
		for now := t0; now.Before(end); now = now.Add(2 * time.Second) {
			e.sim.RateLimitUntil(now.Add(2 * time.Second))
			drain(t, s)
			requests++
			if got := e.sim.Requests(); got != requests {
				t.Fatalf("at %v: requests = %d, want %d (one 429, then waiting)", now.Sub(t0), got, requests)
			}
			e.clock.Advance(1999 * time.Millisecond)
			drain(t, s)
			if got := e.sim.Requests(); got != requests {
				t.Fatalf("request before the reset at %v", e.clock.Now().Sub(t0))
			}
			e.clock.Advance(time.Millisecond)
		}
		drain(t, s)
		dms := e.sim.DMs()
		seen := map[string]bool{}
		for _, d := range dms {
			if d.At.Before(end) {
				t.Errorf("%q arrived at %v, before the reset", d.Text, d.At.Sub(t0))
			}
			if seen[d.Text] {
				t.Errorf("%q arrived twice", d.Text)
			}
			seen[d.Text] = true
		}
		if len(seen) != n {
			t.Fatalf("%d distinct messages arrived, want %d", len(seen), n)
		}
		if st := s.Stats(); st.RateLimitedWaits != 5 || st.FailedAttempts != 0 {
			t.Errorf("stats = %+v, want 5 rate-limited waits and no failed attempt", st)
		}
	})
}

func TestBudgetIsSharedBySendersOnOneDatabase(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const total, perAccount = 60, 25
		for i := range total {
			e.enqueue(dm(fmt.Sprintf("k%d", i), fmt.Sprint(100+i), fmt.Sprintf("msg %d", i), outbox.PriorityCheckout))
		}
		e.enqueue(outbox.Message{Key: "other", MerchantID: "globex", Kind: outbox.KindDM, RecipientID: "7", Text: "other shop"})
		cfg := outbox.Config{Batch: 4, Budget: outbox.Budget{Window: 15 * time.Minute, PerAccount: perAccount, PerApp: 1000}}
		senders := []*outbox.Sender{e.sender(cfg), e.sender(cfg)}
		runAll := func() {
			var wg sync.WaitGroup
			for _, s := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					drain(t, s)
				}()
			}
			wg.Wait()
		}
		runAll()
		acme := func() int {
			n := 0
			for _, d := range e.sim.DMs() {
				if d.AuthorToken == acmeCreds.AccessToken {
					n++
				}
			}
			return n
		}
		if got := acme(); got != perAccount {
			t.Fatalf("acme dms in the first window = %d, want %d", got, perAccount)
		}
		if got := len(e.sim.DMsTo("7")); got != 1 {
			t.Errorf("another account's message waited: %d sent", got)
		}
		e.clock.Advance(14 * time.Minute)
		runAll()
		if got := acme(); got != perAccount {
			t.Fatalf("acme dms before the window ends = %d, want %d", got, perAccount)
		}
		e.clock.Advance(time.Minute)
		runAll()
		if got := acme(); got != 2*perAccount {
			t.Fatalf("acme dms after two windows = %d, want %d", got, 2*perAccount)
		}
		if senders[0].Stats().Sent == 0 || senders[1].Stats().Sent == 0 {
			t.Logf("one sender did all the work: %+v %+v", senders[0].Stats(), senders[1].Stats())
		}
	})
}

func TestSoldOutGroupCollapsesIntoOnePostWhenBudgetIsShort(t *testing.T) {
	tests := []struct {
		name       string
		losers     int
		wantPosts  int // replies + the collapsed post
		wantCollap int
	}{
		{"fits in the budget: one reply each", 5, 5, 0},
		{"more losers than budget: one public post", 40, 1, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			each(t, func(t *testing.T, e *env) {
				const offerPost = "1860000000000000001"
				post := outbox.Message{Key: "soldout:acme/signed-vinyl:post", MerchantID: "acme", Kind: outbox.KindPost,
					Priority: outbox.PrioritySoldOut, InReplyTo: offerPost, Text: "Sold out, thank you all!"}
				e.enqueue(dm("checkout-1", "42", "pay here", outbox.PriorityCheckout),
					dm("checkout-2", "43", "pay here", outbox.PriorityCheckout))
				for i := range tt.losers {
					m := reply(fmt.Sprintf("tweet_create:%d:reply_soldout", 500+i), fmt.Sprint(1870000000000000000+i),
						"sorry, sold out", outbox.PrioritySoldOut)
					m.Group, m.Collapse = "soldout:acme/signed-vinyl", &post
					e.enqueue(m)
				}
				s := e.sender(outbox.Config{Budget: outbox.Budget{Window: 15 * time.Minute, PerAccount: 12, PerApp: 1000}})
				drain(t, s)
				if got := len(e.sim.DMs()); got != 2 {
					t.Errorf("checkout dms = %d, want 2", got)
				}
				posts := e.sim.Posts()
				if len(posts) != tt.wantPosts {
					t.Fatalf("posts = %d, want %d", len(posts), tt.wantPosts)
				}
				if tt.wantCollap > 0 && (posts[0].Text != post.Text || posts[0].InReplyTo != offerPost) {
					t.Errorf("post = %+v, want the sold-out notice on the offer post", posts[0])
				}
				counts, _ := e.db.Outbox().Counts(context.Background())
				if counts[outbox.StatusCollapsed] != tt.wantCollap || s.Stats().Collapsed != int64(tt.wantCollap) {
					t.Errorf("collapsed = %d (stats %d), want %d", counts[outbox.StatusCollapsed], s.Stats().Collapsed, tt.wantCollap)
				}
				if tt.wantCollap > 0 {
					// A loser who comes late is covered by the post too.
					late := reply("tweet_create:999:reply_soldout", "1879999999999999999", "sorry, sold out", outbox.PrioritySoldOut)
					late.Group, late.Collapse = "soldout:acme/signed-vinyl", &post
					e.enqueue(late)
					// Collapsed as it is stored, so it never waits among
					// the pending for a claim the account has no budget for.
					if st := e.status(late.Key); st != outbox.StatusCollapsed {
						t.Errorf("late loser stored %s, want collapsed", st)
					}
					drain(t, s)
					if got := len(e.sim.Posts()); got != 1 || e.status(late.Key) != outbox.StatusCollapsed {
						t.Errorf("late loser: %d posts, status %s; want 1 post and collapsed", got, e.status(late.Key))
					}
				}
			})
		})
	}
}

func TestUnsentMessageIsGivenUpAfterMaxAge(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.sim.FailNext(1000, http.StatusServiceUnavailable)
		m := dm("k", "42", "pay here", outbox.PriorityCheckout)
		e.enqueue(m)
		s := e.sender(outbox.Config{MaxAge: 10 * time.Minute})
		for e.clock.Now().Before(t0.Add(11 * time.Minute)) {
			drain(t, s)
			e.clock.Advance(30 * time.Second)
		}
		if st := e.status(m.Key); st != outbox.StatusExpired {
			t.Fatalf("status = %s, want expired", st)
		}
		requests := e.sim.Requests()
		e.sim.FailNext(0, 0)
		e.clock.Advance(time.Hour)
		drain(t, s)
		if e.sim.Requests() != requests || len(e.sim.DMs()) != 0 {
			t.Errorf("an expired message was sent")
		}
		if st := s.Stats(); st.GaveUp != 1 || st.FailedAttempts == 0 {
			t.Errorf("stats = %+v, want 1 given up after failed attempts", st)
		}
		if !strings.Contains(e.logs.String(), "outbox message given up") || !strings.Contains(e.logs.String(), "key=k") {
			t.Errorf("no log line for the message given up:\n%s", e.logs)
		}
	})
}

func TestLinkIsMintedAtSendTimeAndNeverStored(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		m := dm("hold:5:dm_checkout", "42", "Pay within 15 minutes: "+outbox.LinkPlaceholder, outbox.PriorityCheckout)
		target := commerce.LinkTarget{Kind: commerce.LinkHold, ID: 5}
		m.Link = &outbox.Link{BuyerID: "42", Target: target, ExpiresAt: t0.Add(15 * time.Minute)}
		e.enqueue(m)
		if len(e.links.calls) != 0 {
			t.Fatal("link minted at enqueue time")
		}
		drain(t, e.sender(outbox.Config{}))
		dms := e.sim.DMs()
		if len(dms) != 1 || dms[0].Text != "Pay within 15 minutes: https://shop.test/checkout/secret-1" {
			t.Fatalf("dms = %+v, want one with the minted URL", dms)
		}
		if len(e.links.calls) != 1 || e.links.calls[0].Target != target || !e.links.calls[0].ExpiresAt.Equal(t0.Add(15*time.Minute)) {
			t.Errorf("mint calls = %+v", e.links.calls)
		}
		row, _, _ := e.db.Outbox().Get(context.Background(), m.Key)
		if row.Body != m.Text || strings.Contains(row.Body+row.LastError, "secret") || row.Status != outbox.StatusSent {
			t.Errorf("stored row = %+v, want sent with the placeholder kept", row)
		}
	})
}

func TestMessageWithExpiredLinkIsNotSent(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.sim.RateLimitUntil(t0.Add(20 * time.Minute))
		m := dm("hold:6:dm_checkout", "42", "Pay: "+outbox.LinkPlaceholder, outbox.PriorityCheckout)
		m.Link = &outbox.Link{BuyerID: "42", Target: commerce.LinkTarget{Kind: commerce.LinkHold, ID: 6}, ExpiresAt: t0.Add(15 * time.Minute)}
		e.enqueue(m)
		s := e.sender(outbox.Config{})
		drain(t, s) // 429 until after the hold is gone
		e.clock.Advance(20 * time.Minute)
		drain(t, s)
		if len(e.sim.DMs()) != 0 || e.status(m.Key) != outbox.StatusExpired {
			t.Fatalf("dms = %d, status %s; want none sent and expired", len(e.sim.DMs()), e.status(m.Key))
		}
		if len(e.links.calls) != 1 {
			t.Errorf("mint calls = %d, want 1 (for the attempt that was rate limited)", len(e.links.calls))
		}
	})
}

func TestRunSendsWhatIsEnqueuedAndStopsWithTheContext(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx, cancel := context.WithCancel(context.Background())
		s := e.sender(outbox.Config{Workers: 3, Batch: 5, PollInterval: time.Hour})
		other := e.sender(outbox.Config{Workers: 2, Batch: 5, PollInterval: 10 * time.Millisecond})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var wg sync.WaitGroup
			for _, x := range []*outbox.Sender{s, other} {
				wg.Add(1)
				go func() { defer wg.Done(); x.Run(ctx) }()
			}
			wg.Wait()
		}()
		const n = 100
		for i := range n {
			err := e.db.InTx(ctx, func(ctx context.Context) error {
				return e.db.Outbox().Enqueue(ctx, dm(fmt.Sprintf("k%d", i), fmt.Sprint(100+i), fmt.Sprintf("msg %d", i), outbox.PriorityCheckout))
			})
			if err != nil {
				t.Fatal(err)
			}
			s.Wake()
		}
		wait, stop := context.WithTimeout(ctx, 30*time.Second)
		defer stop()
		if _, err := e.sim.WaitDMs(wait, n); err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second): // a guard against hanging, not a wait for logic
			t.Fatal("Run did not return after the context ended")
		}
		if got := len(e.sim.DMs()); got != n {
			t.Errorf("dms = %d, want %d, none twice", got, n)
		}
		if got := s.Stats().Sent + other.Stats().Sent; got != n {
			t.Errorf("sent counted %d, want %d", got, n)
		}
	})
}

func TestValidateRejectsUnsendableMessages(t *testing.T) {
	ok := dm("k", "42", "hi", 0)
	tests := []struct {
		name string
		edit func(m *outbox.Message)
	}{
		{"no key", func(m *outbox.Message) { m.Key = "" }},
		{"no merchant", func(m *outbox.Message) { m.MerchantID = "" }},
		{"no text", func(m *outbox.Message) { m.Text = " " }},
		{"dm without recipient", func(m *outbox.Message) { m.RecipientID = "" }},
		{"reply without post", func(m *outbox.Message) { m.Kind = outbox.KindReply }},
		{"unknown kind", func(m *outbox.Message) { m.Kind = "tweet" }},
		{"link without placeholder", func(m *outbox.Message) { m.Link = &outbox.Link{BuyerID: "42"} }},
		{"placeholder without link", func(m *outbox.Message) { m.Text = "pay " + outbox.LinkPlaceholder }},
		{"collapse without group", func(m *outbox.Message) { c := ok; m.Collapse = &c }},
		{"invalid follow-up", func(m *outbox.Message) { f := ok; f.Key = ""; m.OnSent = &f }},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid message rejected: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			if err := m.Validate(); !errors.Is(err, outbox.ErrInvalid) {
				t.Errorf("Validate() = %v, want ErrInvalid", err)
			}
		})
	}
}

// blockAfterClaim is the outbox store of a sender whose claims are each
// followed by another sender being told by X to wait (a 429 recorded for
// the account) before this one sends.
type blockAfterClaim struct {
	*storage.Outbox
	until time.Time
}

func (b blockAfterClaim) Claim(ctx context.Context, req outbox.ClaimRequest) (outbox.Claim, error) {
	c, err := b.Outbox.Claim(ctx, req)
	if err != nil || len(c.Messages) == 0 {
		return c, err
	}
	// The other sender's outcome, for a claim of its own (no row of this
	// claim changes): X blocked the account until b.until.
	m := c.Messages[0]
	_, err = b.Outbox.Finish(ctx, outbox.Result{ID: m.ID, Claim: -1, Now: req.Now, Outcome: outbox.OutcomeRateLimited,
		Next: b.until, Block: outbox.AccountBudgetKey(m.MerchantID)})
	return c, err
}

func TestBlockRecordedAfterTheClaimHoldsTheWholePass(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for i := range 5 {
			e.enqueue(dm(fmt.Sprintf("b%d", i), fmt.Sprint(100+i), fmt.Sprintf("msg %d", i), outbox.PriorityCheckout))
		}
		s := e.sender(outbox.Config{Batch: 5})
		s.Store = blockAfterClaim{Outbox: e.db.Outbox(), until: t0.Add(time.Minute)}
		if _, err := s.SendDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := e.sim.Requests(); got != 0 {
			t.Fatalf("%d requests to X for an account blocked since the claim, want none", got)
		}
		if counts, _ := e.db.Outbox().Counts(context.Background()); counts[outbox.StatusPending] != 5 {
			t.Fatalf("counts %v: want the 5 messages put back", counts)
		}
	})
}

// The budget covers the winners' DMs, their "check your DMs" replies and
// the losers one by one, exactly; a loser who comes after that must not
// leave a winner's reply (or the sold-out post) unsent for the window.
func TestLateLoserLeavesNoWinnerReplyUnsent(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		const offerPost = "1860000000000000001"
		post := outbox.Message{Key: "soldout:acme/tote:post", MerchantID: "acme", Kind: outbox.KindPost,
			Priority: outbox.PrioritySoldOut, InReplyTo: offerPost, Text: "Sold out, thank you all!"}
		loser := func(i int) outbox.Message {
			m := reply(fmt.Sprintf("tweet_create:%d:reply_soldout", 600+i), fmt.Sprint(1880000000000000000+i), "sorry, sold out", outbox.PrioritySoldOut)
			m.Group, m.Collapse = "soldout:acme/tote", &post
			return m
		}
		for i := range 2 {
			m := dm(fmt.Sprintf("tweet_create:%d:dm_checkout", i), fmt.Sprint(42+i), "pay here", outbox.PriorityCheckout)
			r := reply(fmt.Sprintf("tweet_create:%d:reply_check_dms", i), fmt.Sprint(1860000000000000010+i), "check your DMs", outbox.PriorityNotice)
			m.OnSent = &r
			e.enqueue(m)
		}
		for i := range 8 { // 2 DMs + 2 replies + 8 losers = the budget of 12
			e.enqueue(loser(i))
		}
		s := e.sender(outbox.Config{Budget: outbox.Budget{Window: 15 * time.Minute, PerAccount: 12, PerApp: 1000}})
		drain(t, s)
		e.enqueue(loser(8))
		drain(t, s)
		counts, _ := e.db.Outbox().Counts(context.Background())
		if counts[outbox.StatusPending] != 0 {
			t.Fatalf("counts %v: %d messages left waiting for the next window", counts, counts[outbox.StatusPending])
		}
		nudges := 0
		for _, p := range e.sim.Posts() {
			if p.Text == "check your DMs" {
				nudges++
			}
		}
		if nudges != 2 || len(e.sim.DMs())+len(e.sim.Posts()) > 12 {
			t.Fatalf("%d replies to the winners (want 2), %d sends (budget 12)", nudges, len(e.sim.DMs())+len(e.sim.Posts()))
		}
	})
}

// Links are minted with the claim; when that fails the claim is rolled
// back, taken again and the links minted one by one, so the buyer still
// gets a working link, once. A mint that keeps failing leaves the message
// for a later pass.
func TestLinkMintThatFailsWithTheClaimIsRetriedAlone(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		m := dm("hold:7:dm_checkout", "42", "Pay: "+outbox.LinkPlaceholder, outbox.PriorityCheckout)
		m.Link = &outbox.Link{BuyerID: "42", Target: commerce.LinkTarget{Kind: commerce.LinkHold, ID: 7}, ExpiresAt: t0.Add(15 * time.Minute)}
		e.enqueue(m)
		e.links.fail = 1
		drain(t, e.sender(outbox.Config{}))
		dms := e.sim.DMs()
		if len(dms) != 1 || dms[0].Text != "Pay: https://shop.test/checkout/secret-1" || e.status(m.Key) != outbox.StatusSent {
			t.Fatalf("dms = %+v, status %s; want the DM sent once with its link", dms, e.status(m.Key))
		}
		if !strings.Contains(e.logs.String(), "claiming again and minting one by one") {
			t.Errorf("no log line about the failed mint:\n%s", e.logs.String())
		}

		m2 := dm("hold:8:dm_checkout", "43", "Pay: "+outbox.LinkPlaceholder, outbox.PriorityCheckout)
		m2.Link = &outbox.Link{BuyerID: "43", Target: commerce.LinkTarget{Kind: commerce.LinkHold, ID: 8}, ExpiresAt: t0.Add(15 * time.Minute)}
		e.enqueue(m2)
		e.links.fail = 2
		s := e.sender(outbox.Config{})
		if _, err := s.SendDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(e.sim.DMs()) != 1 || e.status(m2.Key) != outbox.StatusPending {
			t.Fatalf("after a pass whose mints all failed: %d DMs, status %s; want none more and the message pending", len(e.sim.DMs()), e.status(m2.Key))
		}
	})
}
