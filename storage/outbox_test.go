package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
)

var outboxNow = time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)

func outboxDM(key string) outbox.Message {
	return outbox.Message{Key: key, MerchantID: "acme", Kind: outbox.KindDM, RecipientID: "42", Text: "hello"}
}

func claimReq(now time.Time, limit, perAccount int) outbox.ClaimRequest {
	return outbox.ClaimRequest{Now: now, Limit: limit, Lease: 30 * time.Second, MaxAge: time.Hour,
		Budget: outbox.Budget{Window: 15 * time.Minute, PerAccount: perAccount, PerApp: 1000}}
}

func TestOutboxMessagesCommitWithTheCallersChange(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		failed := errors.New("hold not created")
		err := db.InTx(ctx, func(ctx context.Context) error {
			if err := db.Outbox().Enqueue(ctx, outboxDM("rolled-back")); err != nil {
				return err
			}
			return failed
		})
		if !errors.Is(err, failed) {
			t.Fatalf("InTx = %v", err)
		}
		if _, ok, _ := db.Outbox().Get(ctx, "rolled-back"); ok {
			t.Fatal("message of a rolled-back change was stored")
		}
		err = db.InTx(ctx, func(ctx context.Context) error {
			return db.Outbox().Enqueue(ctx, outboxDM("a"), outboxDM("a"), outboxDM("b"))
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := db.CountForTest(ctx, "SELECT COUNT(*) FROM outbox_messages"); got != 2 {
			t.Fatalf("rows = %d, want 2 (one per key)", got)
		}
		bad := outboxDM("c")
		bad.RecipientID = ""
		if err := db.Outbox().Enqueue(ctx, outboxDM("d"), bad); !errors.Is(err, outbox.ErrInvalid) {
			t.Fatalf("invalid enqueue = %v, want ErrInvalid", err)
		}
		if _, ok, _ := db.Outbox().Get(ctx, "d"); ok {
			t.Error("a batch with an invalid message was partly stored")
		}
	})
}

// A crashed sender's lease expires and the message is claimed again; the
// crashed sender's late result then changes nothing, except that a send X
// accepted is still recorded.
func TestOutboxLeaseHidesAMessageUntilItExpires(t *testing.T) {
	storagetest.Each(t, storagetest.Options{Now: func() time.Time { return outboxNow }}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := outboxNow
		if err := db.Outbox().Enqueue(ctx, outboxDM("k")); err != nil {
			t.Fatal(err)
		}
		first, err := db.Outbox().Claim(ctx, claimReq(now, 10, 100))
		if err != nil || len(first.Messages) != 1 {
			t.Fatalf("first claim = %+v, %v", first, err)
		}
		again, _ := db.Outbox().Claim(ctx, claimReq(now.Add(29*time.Second), 10, 100))
		if len(again.Messages) != 0 {
			t.Fatal("a leased message was claimed by another sender")
		}
		second, _ := db.Outbox().Claim(ctx, claimReq(now.Add(30*time.Second), 10, 100))
		if len(second.Messages) != 1 || second.Messages[0].Claim == first.Messages[0].Claim {
			t.Fatalf("after the lease: %+v, want the message claimed again under a new claim", second.Messages)
		}
		old := first.Messages[0]
		ok, err := db.Outbox().Finish(ctx, outbox.Result{ID: old.ID, Claim: old.Claim, Outcome: outbox.OutcomeRetry, Now: now, Next: now})
		if err != nil || ok {
			t.Fatalf("late retry of a lost lease = %v, %v; want ignored", ok, err)
		}
		follow := outboxDM("follow")
		ok, err = db.Outbox().Finish(ctx, outbox.Result{ID: old.ID, Claim: old.Claim, Outcome: outbox.OutcomeSent, XID: "99", Now: now, Then: &follow})
		if err != nil || !ok {
			t.Fatalf("late sent of a lost lease = %v, %v; want recorded", ok, err)
		}
		m, _, _ := db.Outbox().Get(ctx, "k")
		if m.Status != outbox.StatusSent || m.XID != "99" {
			t.Errorf("row = %+v, want sent as 99", m)
		}
		if _, ok, _ := db.Outbox().Get(ctx, "follow"); !ok {
			t.Error("OnSent follow-up not enqueued with the sent mark")
		}
	})
}

func TestOutboxConcurrentClaimsNeverExceedTheBudget(t *testing.T) {
	storagetest.Each(t, storagetest.Options{Now: func() time.Time { return outboxNow }}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := outboxNow
		for i := range 50 {
			if err := db.Outbox().Enqueue(ctx, outboxDM(fmt.Sprint("k", i))); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					c, err := db.Outbox().Claim(ctx, claimReq(now, 3, 10))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, m := range c.Messages {
						seen[m.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != 10 {
			t.Errorf("claimed %d messages, want exactly the budget of 10", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("message %d claimed %d times", id, n)
			}
		}
	})
}

func TestOutboxBudgetRefillsWhenItsWindowEnds(t *testing.T) {
	storagetest.Each(t, storagetest.Options{Now: func() time.Time { return outboxNow }}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for i := range 10 {
			if err := db.Outbox().Enqueue(ctx, outboxDM(fmt.Sprint("w", i))); err != nil {
				t.Fatal(err)
			}
		}
		claim := func(now time.Time) int {
			t.Helper()
			c, err := db.Outbox().Claim(ctx, claimReq(now, 10, 4))
			if err != nil {
				t.Fatal(err)
			}
			return len(c.Messages)
		}
		if n := claim(outboxNow); n != 4 {
			t.Fatalf("first claim took %d messages, want the budget of 4", n)
		}
		if n := claim(outboxNow.Add(14 * time.Minute)); n != 0 {
			t.Fatalf("claim within the window took %d messages, want none", n)
		}
		// The window (15m) started at the first claim: it is over, and the
		// claim starts a new one with a full budget.
		later := outboxNow.Add(15 * time.Minute)
		if n := claim(later); n != 4 {
			t.Fatalf("claim after the window took %d messages, want a new budget of 4", n)
		}
		if n := claim(later.Add(time.Minute)); n != 0 {
			t.Fatalf("claim in the new window took %d messages, want none", n)
		}
	})
}

// Sends recorded together land as Finish would record each: the X id and
// the sent status on each row, and "not applied" for a message that was
// already recorded as sent.
func TestOutboxRecordsManySendsInOneStatement(t *testing.T) {
	storagetest.Each(t, storagetest.Options{Now: func() time.Time { return outboxNow }}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if err := db.Outbox().Enqueue(ctx, outboxDM("a"), outboxDM("b"), outboxDM("c")); err != nil {
			t.Fatal(err)
		}
		c, err := db.Outbox().Claim(ctx, claimReq(outboxNow, 10, 100))
		if err != nil || len(c.Messages) != 3 {
			t.Fatalf("claim = %+v, %v", c, err)
		}
		ms := c.Messages
		if ok, err := db.Outbox().Finish(ctx, outbox.Result{ID: ms[1].ID, Claim: ms[1].Claim, Outcome: outbox.OutcomeSent, XID: "first", Now: outboxNow}); err != nil || !ok {
			t.Fatalf("finish = %v, %v", ok, err)
		}
		var rs []outbox.Result
		for i, m := range ms {
			rs = append(rs, outbox.Result{ID: m.ID, Claim: m.Claim, Outcome: outbox.OutcomeSent, XID: fmt.Sprint(900 + i), Now: outboxNow})
		}
		applied, err := db.Outbox().FinishSent(ctx, rs)
		if err != nil || len(applied) != 3 || !applied[0] || applied[1] || !applied[2] {
			t.Fatalf("FinishSent = %v, %v; want [true false true]", applied, err)
		}
		for i, want := range []string{"900", "first", "902"} {
			m, _, _ := db.Outbox().Get(ctx, ms[i].Key)
			if m.Status != outbox.StatusSent || m.XID != want {
				t.Errorf("message %s = %s as %q, want sent as %q", ms[i].Key, m.Status, m.XID, want)
			}
		}
		// Follow-ups are enqueued for the sends recorded now, not for one
		// that was already recorded.
		if err := db.Outbox().Enqueue(ctx, outboxDM("d"), outboxDM("e")); err != nil {
			t.Fatal(err)
		}
		c, err = db.Outbox().Claim(ctx, claimReq(outboxNow, 10, 100))
		if err != nil || len(c.Messages) != 2 {
			t.Fatalf("second claim = %+v, %v", c, err)
		}
		f1, f2, f3 := outboxDM("follow-d"), outboxDM("follow-e"), outboxDM("follow-a")
		applied, err = db.Outbox().FinishSent(ctx, []outbox.Result{
			{ID: c.Messages[0].ID, Outcome: outbox.OutcomeSent, XID: "d1", Now: outboxNow, Then: &f1},
			{ID: c.Messages[1].ID, Outcome: outbox.OutcomeSent, XID: "e1", Now: outboxNow, Then: &f2},
			{ID: ms[0].ID, Outcome: outbox.OutcomeSent, XID: "a2", Now: outboxNow, Then: &f3},
		})
		if err != nil || !applied[0] || !applied[1] || applied[2] {
			t.Fatalf("FinishSent with follow-ups = %v, %v; want [true true false]", applied, err)
		}
		for key, want := range map[string]bool{"follow-d": true, "follow-e": true, "follow-a": false} {
			if _, ok, _ := db.Outbox().Get(ctx, key); ok != want {
				t.Errorf("follow-up %s stored = %v, want %v", key, ok, want)
			}
		}
		if _, err := db.Outbox().FinishSent(ctx, []outbox.Result{{ID: ms[0].ID, Outcome: outbox.OutcomeSent, Block: "account:acme"}}); err == nil {
			t.Error("a send that blocks an account was recorded without the block")
		}
	})
}

// The lookups of a group's messages read the group index, not every
// collapsed or pending message of the table.
func TestOutboxGroupLookupsUseTheGroupIndex(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		for name, q := range map[string]struct {
			sql  string
			args []any
		}{
			"collapsed": {storage.GroupCollapsedSQL, []any{"drop:acme:1"}},
			"counts":    {storage.GroupCountsSQL, []any{int64(7), "drop:acme:1"}},
			"members":   {storage.GroupMembersSQL, []any{"drop:acme:1", int64(7)}},
		} {
			if plan := planOf(t, db, q.sql, q.args...); !strings.Contains(plan, "outbox_messages_group") {
				t.Errorf("%s plan:\n%s\nwant outbox_messages_group", name, plan)
			}
		}
	})
}

// A pass takes the due messages in priority order, lapsed leases first
// within a priority, then pending messages in the order they became due;
// the messages waiting out a retry backoff stay out of the pass however
// many they are, and come back when their backoff ends.
func TestOutboxClaimTakesDueMessagesPastThoseBackingOff(t *testing.T) {
	storagetest.Each(t, storagetest.Options{Now: func() time.Time { return outboxNow }}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := outboxNow
		msg := func(key string, priority int) outbox.Message {
			m := outboxDM(key)
			m.Priority = priority
			return m
		}
		var failing []outbox.Message
		for i := range 200 {
			failing = append(failing, msg(fmt.Sprintf("failing:%d", i), outbox.PriorityCheckout))
		}
		if err := db.Outbox().Enqueue(ctx, failing...); err != nil {
			t.Fatal(err)
		}
		if err := db.Outbox().Enqueue(ctx, msg("lapsed-notice", outbox.PriorityNotice), msg("lapsed-checkout", outbox.PriorityCheckout)); err != nil {
			t.Fatal(err)
		}
		// The 200 fail and back off for a minute; the other two are
		// leased by a sender that then dies.
		first, err := db.Outbox().Claim(ctx, claimReq(now, 300, 1000))
		if err != nil || len(first.Messages) != 202 {
			t.Fatalf("first claim = %d messages, %v", len(first.Messages), err)
		}
		for _, m := range first.Messages {
			if strings.HasPrefix(m.Key, "failing:") {
				if _, err := db.Outbox().Finish(ctx, outbox.Result{ID: m.ID, Claim: m.Claim, Outcome: outbox.OutcomeRetry, Now: now, Next: now.Add(time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := db.Outbox().Enqueue(ctx, msg("reminder", outbox.PriorityReminder), msg("notice", outbox.PriorityNotice),
			msg("checkout-1", outbox.PriorityCheckout), msg("checkout-2", outbox.PriorityCheckout)); err != nil {
			t.Fatal(err)
		}
		keys := func(c outbox.Claim) []string {
			var out []string
			for _, m := range c.Messages {
				out = append(out, m.Key)
			}
			return out
		}
		afterLease := now.Add(40 * time.Second) // the lease is 30 s; the backoff a minute
		got, err := db.Outbox().Claim(ctx, claimReq(afterLease, 4, 1000))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"lapsed-checkout", "checkout-1", "checkout-2", "lapsed-notice"}; !slices.Equal(keys(got), want) {
			t.Errorf("claim of 4 = %v, want %v", keys(got), want)
		}
		got, _ = db.Outbox().Claim(ctx, claimReq(afterLease, 10, 1000))
		if want := []string{"notice", "reminder"}; !slices.Equal(keys(got), want) {
			t.Errorf("next claim = %v, want %v", keys(got), want)
		}
		got, _ = db.Outbox().Claim(ctx, claimReq(afterLease, 10, 1000))
		if len(got.Messages) != 0 {
			t.Errorf("claim while the rest back off = %v, want nothing", keys(got))
		}
		got, _ = db.Outbox().Claim(ctx, claimReq(now.Add(time.Minute), 500, 1000))
		if len(got.Messages) != 200 || got.Messages[0].Key != "failing:0" {
			t.Errorf("claim once the backoff ended = %d messages, want the 200 retried", len(got.Messages))
		}
	})
}

// A claim pass reads only due rows from the table: pending messages in
// sending order from the index that holds their next attempt, with no
// sort; lapsed leases from the lease index; and the expiry's walk steps
// from priority to priority in an index.
func TestOutboxDueQueriesReadOnlyDueRows(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		now := outboxNow
		due := planOf(t, db, storage.DueSQL, now, int64(-1), time.Time{}, int64(0), int64(20))
		if !strings.Contains(due, "outbox_messages_ready") || strings.Contains(due, "TEMP B-TREE") || strings.Contains(due, "Sort") {
			t.Errorf("due plan:\n%s\nwant outbox_messages_ready in its order, no sort", due)
		}
		lapsed := planOf(t, db, storage.LapsedSQL, now, int64(20))
		if !strings.Contains(lapsed, "outbox_messages_leased") {
			t.Errorf("lapsed plan:\n%s\nwant outbox_messages_leased", lapsed)
		}
		priorities := planOf(t, db, storage.WaitingPrioritiesSQL)
		if db.Driver() == storage.DriverSQLite && !strings.Contains(priorities, "SEARCH outbox_messages USING INDEX outbox_messages_due (priority>?)") ||
			db.Driver() == storage.DriverPostgres && (!strings.Contains(priorities, "Limit") || strings.Contains(priorities, "Aggregate")) {
			t.Errorf("priorities plan:\n%s\nwant one index step a priority", priorities)
		}
	})
}

// Messages of an account that cannot send (its window's budget spent, or
// blocked by a 429) wait for the window or the block to end, moved there
// once, so that the passes in between neither send them nor read them
// again; other accounts' messages go out meanwhile.
func TestOutboxMessagesOfABlockedAccountWaitWithoutHoldingUpOthers(t *testing.T) {
	storagetest.Each(t, storagetest.Options{Now: func() time.Time { return outboxNow }}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := outboxNow
		other := func(key string) outbox.Message {
			m := outboxDM(key)
			m.MerchantID = "globex"
			return m
		}
		for i := range 5 {
			if err := db.Outbox().Enqueue(ctx, outboxDM(fmt.Sprintf("acme:%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Outbox().Enqueue(ctx, other("globex:0")); err != nil {
			t.Fatal(err)
		}
		// keys records the pass's messages as sent and lists them.
		keys := func(c outbox.Claim) (out []string) {
			for _, m := range c.Messages {
				out = append(out, m.Key)
				if m.Key == "acme:3" {
					continue // answered 429 below
				}
				if _, err := db.Outbox().Finish(ctx, outbox.Result{ID: m.ID, Claim: m.Claim, Outcome: outbox.OutcomeSent, XID: m.Key, Now: now}); err != nil {
					t.Fatal(err)
				}
			}
			return out
		}
		dueNow := func(at time.Time) int64 {
			return db.CountForTest(ctx, `SELECT COUNT(*) FROM outbox_messages WHERE status = 'pending' AND next_attempt_at <= ?`, at)
		}
		// acme's budget is 2 a window: its first pass takes 2 and globex's.
		got, err := db.Outbox().Claim(ctx, claimReq(now, 10, 2))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"acme:0", "acme:1", "globex:0"}; !slices.Equal(keys(got), want) {
			t.Fatalf("first pass = %v, want %v", keys(got), want)
		}
		if err := db.Outbox().Enqueue(ctx, outboxDM("acme:late"), other("globex:1")); err != nil {
			t.Fatal(err)
		}
		got, _ = db.Outbox().Claim(ctx, claimReq(now.Add(time.Second), 10, 2))
		if want := []string{"globex:1"}; !slices.Equal(keys(got), want) {
			t.Fatalf("pass with acme's budget spent = %v, want %v", keys(got), want)
		}
		if n := dueNow(now.Add(time.Second)); n != 0 {
			t.Errorf("%d messages still due after the pass; want acme's moved to its window's end", n)
		}
		got, _ = db.Outbox().Claim(ctx, claimReq(now.Add(15*time.Minute-time.Second), 10, 2))
		if len(got.Messages) != 0 {
			t.Errorf("pass before acme's window ends = %v, want nothing", keys(got))
		}
		// The new window: acme sends 2 more, in enqueue order; then X
		// answers 429 for acme for half an hour.
		end := now.Add(15 * time.Minute)
		got, _ = db.Outbox().Claim(ctx, claimReq(end, 10, 2))
		if want := []string{"acme:2", "acme:3"}; !slices.Equal(keys(got), want) {
			t.Fatalf("pass in acme's next window = %v, want %v", keys(got), want)
		}
		blockedUntil := end.Add(30 * time.Minute)
		m := got.Messages[1] // acme:3
		if _, err := db.Outbox().Finish(ctx, outbox.Result{ID: m.ID, Claim: m.Claim, Outcome: outbox.OutcomeRateLimited, Now: end,
			Next: blockedUntil, Block: outbox.AccountBudgetKey("acme")}); err != nil {
			t.Fatal(err)
		}
		next := end.Add(15 * time.Minute) // a window later: the budget is back, the block is not
		got, _ = db.Outbox().Claim(ctx, claimReq(next, 10, 2))
		if len(got.Messages) != 0 {
			t.Errorf("pass while acme is blocked = %v, want nothing", keys(got))
		}
		if n := dueNow(next); n != 0 {
			t.Errorf("%d messages still due while acme is blocked; want them moved to the block's end", n)
		}
		got, _ = db.Outbox().Claim(ctx, claimReq(blockedUntil, 10, 2))
		if want := []string{"acme:3", "acme:4"}; !slices.Equal(keys(got), want) {
			t.Errorf("pass once the block ends = %v, want %v", keys(got), want)
		}
	})
}

// The sender is woken once a transaction that enqueued something to send
// commits, and not for a transaction that rolled back or whose messages
// were collapsed at once into a post already made.
func TestOutboxWakesTheSenderOnlyForCommittedMessagesToSend(t *testing.T) {
	storagetest.Each(t, storagetest.Options{}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		wakes := 0
		inTx := -1
		db.OnEnqueued(storage.OutboxWork, func() { wakes++ })
		reply := func(key string) outbox.Message {
			m := outboxDM(key)
			m.Kind, m.RecipientID, m.InReplyTo, m.Group = outbox.KindReply, "", "1860000000000000002", "soldout:acme:tote"
			return m
		}
		err := db.InTx(ctx, func(ctx context.Context) error {
			for i := range 3 {
				if err := db.Outbox().Enqueue(ctx, outboxDM(fmt.Sprintf("dm:%d", i))); err != nil {
					return err
				}
			}
			inTx = wakes
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if inTx != 0 || wakes != 1 {
			t.Fatalf("wakes before commit %d, after %d; want 0 then 1", inTx, wakes)
		}
		_ = db.InTx(ctx, func(ctx context.Context) error {
			if err := db.Outbox().Enqueue(ctx, outboxDM("rolled-back")); err != nil {
				return err
			}
			return errors.New("handler failed")
		})
		if wakes != 1 {
			t.Errorf("a rolled-back enqueue woke the sender")
		}
		if err := db.Outbox().Enqueue(ctx, reply("reply:0")); err != nil {
			t.Fatal(err)
		}
		if wakes != 2 {
			t.Fatalf("wakes = %d after a reply to send, want 2", wakes)
		}
		if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET status = 'collapsed' WHERE msg_key = 'reply:0'`); err != nil {
			t.Fatal(err)
		}
		if err := db.Outbox().Enqueue(ctx, reply("reply:1")); err != nil {
			t.Fatal(err)
		}
		if m, _, _ := db.Outbox().Get(ctx, "reply:1"); m.Status != outbox.StatusCollapsed {
			t.Fatalf("reply to a collapsed group is %s, want collapsed at once", m.Status)
		}
		if wakes != 2 {
			t.Errorf("a reply collapsed at once woke the sender")
		}
	})
}

// A pass gives up messages older than MaxAge, reading only those, and a
// due message whose link has expired without taking budget for it; the
// other waiting messages stay as they were.
func TestOutboxGivesUpOldMessagesAndExpiredLinks(t *testing.T) {
	storagetest.Each(t, storagetest.Options{Now: func() time.Time { return outboxNow }}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := outboxNow
		var waiting []outbox.Message
		for i := range 50 {
			waiting = append(waiting, outboxDM(fmt.Sprintf("waiting:%d", i)))
		}
		var old []outbox.Message
		for i := range 20 { // more than the expiry reads at a time
			old = append(old, outboxDM(fmt.Sprintf("old:%d", i)))
		}
		linked := outboxDM("linked")
		linked.Text = "Pay here: " + outbox.LinkPlaceholder
		linked.Link = &outbox.Link{BuyerID: "42", Target: commerce.LinkTarget{Kind: commerce.LinkHold, ID: 7}, ExpiresAt: now.Add(15 * time.Minute)}
		if err := db.Outbox().Enqueue(ctx, append(append(old, linked), waiting...)...); err != nil {
			t.Fatal(err)
		}
		if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET created_at = ? WHERE msg_key LIKE 'old:%'`, now.Add(-2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET next_attempt_at = ? WHERE msg_key LIKE 'waiting:%'`, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		at := now.Add(20 * time.Minute) // past the link's expiry, within MaxAge for all but the old
		c, err := db.Outbox().Claim(ctx, claimReq(at, 10, 1))
		if err != nil {
			t.Fatal(err)
		}
		forAge, forLink := 0, 0
		for _, e := range c.Expired {
			switch {
			case strings.HasPrefix(e.Key, "old:") && !e.LinkExpired:
				forAge++
			case e.Key == "linked" && e.LinkExpired:
				forLink++
			default:
				t.Errorf("gave up %s (link expired %v)", e.Key, e.LinkExpired)
			}
		}
		if len(c.Messages) != 0 || forAge != 20 || forLink != 1 {
			t.Fatalf("pass claimed %d, gave up %d for their age and %d for its link; want 0, 20 and 1", len(c.Messages), forAge, forLink)
		}
		if n := db.CountForTest(ctx, `SELECT COUNT(*) FROM outbox_messages WHERE status = 'pending'`); n != 50 {
			t.Errorf("%d messages still waiting, want 50", n)
		}
		// The account's budget (1) was not spent on the expired link.
		if err := db.ExecForTest(ctx, `UPDATE outbox_messages SET next_attempt_at = ? WHERE msg_key = 'waiting:0'`, at); err != nil {
			t.Fatal(err)
		}
		if c, _ := db.Outbox().Claim(ctx, claimReq(at, 10, 1)); len(c.Messages) != 1 {
			t.Errorf("next pass claimed %d, want waiting:0 within the budget of 1", len(c.Messages))
		}
		if plan := planOf(t, db, storage.OldestWaitingSQL, int64(0), int64(0), int64(16)); !strings.Contains(plan, "outbox_messages_due") {
			t.Errorf("expiry plan:\n%s\nwant outbox_messages_due", plan)
		}
	})
}

// Messages deferred to the end of their account's window are weighed again
// when a sender starts (RequeueDeferred): with per_account raised since,
// they go at once; with it as before, or with X's 429 still in force, the
// next pass defers them again; a message backing off after a failed
// attempt keeps its time.
func TestOutboxDeferredMessagesFollowARaisedBudget(t *testing.T) {
	storagetest.Each(t, storagetest.Options{Now: func() time.Time { return outboxNow }}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := outboxNow
		for i := range 6 {
			if err := db.Outbox().Enqueue(ctx, outboxDM(fmt.Sprintf("acme:%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		keys := func(c outbox.Claim) (out []string) {
			for _, m := range c.Messages {
				out = append(out, m.Key)
			}
			return out
		}
		claim := func(at time.Time, perAccount int) outbox.Claim {
			t.Helper()
			c, err := db.Outbox().Claim(ctx, claimReq(at, 10, perAccount))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		requeue := func(at time.Time) int64 {
			t.Helper()
			n, err := db.Outbox().RequeueDeferred(ctx, at)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		// Budget 2: acme:0 and acme:1 go; acme:0 fails and backs off for
		// an hour; the other 4 are deferred to the window's end.
		first := claim(now, 2)
		if want := []string{"acme:0", "acme:1"}; !slices.Equal(keys(first), want) {
			t.Fatalf("first pass = %v, want %v", keys(first), want)
		}
		m0, m1 := first.Messages[0], first.Messages[1]
		if _, err := db.Outbox().Finish(ctx, outbox.Result{ID: m0.ID, Claim: m0.Claim, Outcome: outbox.OutcomeRetry, Now: now, Next: now.Add(time.Hour), Error: "X answered 500"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Outbox().Finish(ctx, outbox.Result{ID: m1.ID, Claim: m1.Claim, Outcome: outbox.OutcomeSent, XID: "x1", Now: now}); err != nil {
			t.Fatal(err)
		}
		if c := claim(now.Add(time.Second), 2); len(c.Messages) != 0 {
			t.Fatalf("pass with the budget spent = %v", keys(c))
		}

		// A restart with the same budget: made due, deferred again, none sent.
		at := now.Add(time.Minute)
		if n := requeue(at); n != 4 {
			t.Fatalf("requeued %d, want the 4 deferred (not the one backing off)", n)
		}
		if c := claim(at, 2); len(c.Messages) != 0 {
			t.Fatalf("pass after a requeue under the same budget = %v, want nothing", keys(c))
		}
		if n := db.CountForTest(ctx, `SELECT COUNT(*) FROM outbox_messages WHERE status = 'pending' AND next_attempt_at <= ?`, at); n != 0 {
			t.Fatalf("%d messages due after that pass; want them deferred again", n)
		}

		// A restart with per_account 5: 3 more go at once (2 of the
		// window's 5 are spent), long before the window ends; acme:0 still
		// waits for its retry.
		at = now.Add(2 * time.Minute)
		if n := requeue(at); n != 4 {
			t.Fatalf("requeued %d, want 4", n)
		}
		if want, got := []string{"acme:2", "acme:3", "acme:4"}, keys(claim(at, 5)); !slices.Equal(got, want) {
			t.Fatalf("pass after a requeue under a raised budget = %v, want %v", got, want)
		}
	})
}

// A message deferred by X's 429 for its account stays deferred across a
// requeue while the block lasts.
func TestOutboxRequeueKeepsA429Block(t *testing.T) {
	storagetest.Each(t, storagetest.Options{Now: func() time.Time { return outboxNow }}, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := outboxNow
		if err := db.Outbox().Enqueue(ctx, outboxDM("acme:0"), outboxDM("acme:1")); err != nil {
			t.Fatal(err)
		}
		c, err := db.Outbox().Claim(ctx, claimReq(now, 1, 100))
		if err != nil || len(c.Messages) != 1 {
			t.Fatalf("first pass: %v %v", c.Messages, err)
		}
		m := c.Messages[0]
		reset := now.Add(10 * time.Minute)
		if _, err := db.Outbox().Finish(ctx, outbox.Result{ID: m.ID, Claim: m.Claim, Outcome: outbox.OutcomeRateLimited, Now: now,
			Next: reset, Block: outbox.AccountBudgetKey("acme")}); err != nil {
			t.Fatal(err)
		}
		at := now.Add(time.Minute)
		if _, err := db.Outbox().RequeueDeferred(ctx, at); err != nil {
			t.Fatal(err)
		}
		if c, err := db.Outbox().Claim(ctx, claimReq(at, 10, 100)); err != nil || len(c.Messages) != 0 {
			t.Fatalf("pass during X's block after a requeue = %d messages, %v; want none", len(c.Messages), err)
		}
		if c, err := db.Outbox().Claim(ctx, claimReq(reset, 10, 100)); err != nil || len(c.Messages) != 2 {
			t.Fatalf("pass at the block's end = %d messages, %v; want 2", len(c.Messages), err)
		}
	})
}
