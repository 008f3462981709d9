package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/jobs"
	"github.com/hashcart/hashcart/storage"
)

// stubProvider is a payment provider whose saved-method charges answer
// from a script: one error per call (nil: paid), the last one repeated.
// It remembers whether a charge ran inside a database transaction.
type stubProvider struct {
	mu      sync.Mutex
	answers []error
	calls   int
	keys    []string
	inTx    bool
	db      *storage.DB
}

func (*stubProvider) Name() string { return "stub" }
func (*stubProvider) StartPayment(context.Context, commerce.PaymentRequest) (commerce.PaymentSession, error) {
	return commerce.PaymentSession{ID: "s", RedirectURL: "http://pay.invalid/s"}, nil
}
func (*stubProvider) MinSessionLife() time.Duration                                { return 0 }
func (*stubProvider) Refund(context.Context, string, commerce.Money, string) error { return nil }
func (p *stubProvider) ChargeSaved(ctx context.Context, r commerce.PaymentRequest, m commerce.SavedMethod) (commerce.PaymentOutcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if storage.InTxForTest(ctx) {
		p.inTx = true
	}
	err := p.answers[min(p.calls, len(p.answers)-1)]
	p.calls++
	p.keys = append(p.keys, r.Reference)
	if err != nil {
		return commerce.PaymentOutcome{}, err
	}
	mm := m
	return commerce.PaymentOutcome{EventID: "stub:" + r.Reference, OrderID: r.OrderID, Paid: true, PaymentRef: "ch_" + r.Reference, Method: &mm}, nil
}

// oneTapShop is a harness with a returning buyer (saved details for the
// stub provider), a checkout and a task runner on a clock the test moves.
type oneTapShop struct {
	*harness
	provider *stubProvider
	runner   *jobs.ProviderTasks
	clock    *time.Time
}

func newOneTapShop(t *testing.T, answers ...error) *oneTapShop {
	now := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	h := newHarness(t, now)
	p := &stubProvider{answers: answers, db: h.db}
	clock := now
	tick := func() time.Time { return clock }
	h.bot.Checkout = &commerce.Checkout{Orders: h.db.Orders(), Details: h.db.Orders(), Provider: p, InTx: h.db.InTx, Tasks: h.db.Tasks(),
		Notify: &bot.Notifier{Catalog: h.bot.Catalog, Outbox: h.out, Templates: h.bot.Templates}, Now: tick, Log: h.bot.Log}
	saved := commerce.SavedDetails{
		Shipping: commerce.Address{Name: "Ada", Line1: "1 Main St", City: "Brooklyn", Region: "NY", PostalCode: "11249", Country: "US"},
		Contact:  commerce.Contact{Email: "ada@example.com"},
		Method:   &commerce.SavedMethod{Provider: "stub", MethodRef: "pm_1", Brand: "Visa", Last4: "4242"},
	}
	if err := h.db.Orders().SaveDetails(context.Background(), "901", saved, now); err != nil {
		t.Fatal(err)
	}
	runner := &jobs.ProviderTasks{Store: h.db.Tasks(), Runner: h.bot.Checkout, Now: tick, Log: h.bot.Log, MaxAttempts: 4}
	return &oneTapShop{harness: h, provider: p, runner: runner, clock: &clock}
}

// yes offers the one-tap buy and answers YES; it returns what the YES
// itself sent.
func (s *oneTapShop) yes(t *testing.T) []string {
	t.Helper()
	msgs := s.reply(t, 1, "1001", "#BuyNow black")
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "with Visa ending 4242, shipping to Brooklyn, NY? Reply YES") {
		t.Fatalf("one-tap offer = %+v", msgs)
	}
	var texts []string
	for _, m := range s.dm(t, 1, "yes") {
		texts = append(texts, m.Text)
	}
	return texts
}

// run runs the due tasks, then moves the clock a minute on.
func (s *oneTapShop) run(t *testing.T) []string {
	t.Helper()
	before := len(s.out.msgs)
	if _, err := s.runner.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	*s.clock = s.clock.Add(time.Minute)
	var texts []string
	for _, m := range s.out.msgs[before:] {
		texts = append(texts, m.Text)
	}
	return texts
}

func (s *oneTapShop) order(t *testing.T) commerce.Order {
	t.Helper()
	o, err := s.db.Orders().OrderForHold(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestYESChargesAfterTheEventCommitsOutsideAnyTransaction(t *testing.T) {
	s := newOneTapShop(t, nil)
	if sent := s.yes(t); len(sent) != 0 {
		t.Fatalf("the YES event sent %q; the confirmation must follow the charge", sent)
	}
	if s.provider.calls != 0 {
		t.Fatal("the provider was called inside the YES event's transaction")
	}
	if o := s.order(t); o.Status != commerce.OrderPending {
		t.Fatalf("order after YES = %s, want pending until the charge", o.Status)
	}
	sent := s.run(t)
	if len(sent) != 1 || !strings.Contains(sent[0], "HC-000001 is confirmed") {
		t.Fatalf("after the charge: %q, want one confirmation", sent)
	}
	if s.provider.inTx {
		t.Fatal("the charge ran inside a database transaction")
	}
	if o := s.order(t); o.Status != commerce.OrderPaid {
		t.Fatalf("order = %s, want paid", o.Status)
	}
	if more := s.run(t); len(more) != 0 || s.provider.calls != 1 {
		t.Fatalf("a second run sent %q and charged %d times", more, s.provider.calls)
	}
}

func TestYESRetriesAnUnreachableProviderThenPaysOnce(t *testing.T) {
	down := errors.New("stripe: 503 service unavailable")
	s := newOneTapShop(t, down, down, nil)
	s.yes(t)
	var sent []string
	for i := 0; i < 5; i++ {
		sent = append(sent, s.run(t)...)
	}
	if len(sent) != 1 || !strings.Contains(sent[0], "is confirmed") {
		t.Fatalf("sent %q, want exactly one confirmation", sent)
	}
	if s.provider.calls != 3 {
		t.Fatalf("%d charge attempts, want 3 (two failures, then paid)", s.provider.calls)
	}
	for _, k := range s.provider.keys {
		if k != "HC-000001" {
			t.Fatalf("attempts used references %v; a retry must reuse the order's", s.provider.keys)
		}
	}
	if o := s.order(t); o.Status != commerce.OrderPaid {
		t.Fatalf("order = %s, want paid", o.Status)
	}
}

func TestYESGivesUpOnAnUnreachableProviderAndSendsTheLink(t *testing.T) {
	s := newOneTapShop(t, errors.New("dial tcp: connection refused"))
	s.yes(t)
	var sent []string
	for i := 0; i < 8; i++ {
		sent = append(sent, s.run(t)...)
	}
	if s.provider.calls != 4 {
		t.Fatalf("%d attempts, want the bound of 4", s.provider.calls)
	}
	if len(sent) != 1 || !strings.Contains(sent[0], "couldn't reach the payment provider") {
		t.Fatalf("sent %q, want one DM saying so", sent)
	}
	last := s.out.msgs[len(s.out.msgs)-1]
	if last.Link == nil || last.Link.Target.Kind != commerce.LinkHold || last.Link.Target.ID != 1 {
		t.Fatalf("the give-up DM has no link to the hold: %+v", last.Link)
	}
	key := strings.TrimSuffix(last.Key, ":dm_onetap_failed")
	if st, n, err := s.db.Tasks().TaskStatus(context.Background(), key); st != commerce.TaskDead || n != 4 {
		t.Fatalf("task %s: %s after %d attempts (%v), want dead after 4", key, st, n, err)
	}
	if o := s.order(t); o.Status != commerce.OrderPending {
		t.Fatalf("order = %s, want pending (the buyer can pay on the page)", o.Status)
	}
}

func TestYESFallsBackToTheLinkWhenTheCardNeedsConfirmation(t *testing.T) {
	s := newOneTapShop(t, fmt.Errorf("stub: %w", commerce.ErrAuthenticationRequired))
	if sent := s.yes(t); len(sent) != 0 {
		t.Fatalf("the YES event sent %q", sent)
	}
	sent := s.run(t)
	last := s.out.msgs[len(s.out.msgs)-1]
	if len(sent) != 1 || !strings.Contains(sent[0], "needs your confirmation") || last.Link == nil || last.Link.Target.Kind != commerce.LinkHold {
		t.Fatalf("after a refused one-tap charge: %q %+v", sent, last.Link)
	}
	if more := s.run(t); len(more) != 0 || s.provider.calls != 1 {
		t.Fatalf("a refusal was retried: %d calls, %q", s.provider.calls, more)
	}
	if o := s.order(t); o.Status != commerce.OrderPending {
		t.Fatalf("order after a refused charge = %s; want pending", o.Status)
	}
}
