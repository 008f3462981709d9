package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot"
	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/inbox"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/xsim"
)

const merchantID = "2244994945"

const testConfig = `
x: { consumer_secret: s }
merchants:
  - id: acme
    name: Acme Records
    x_user_id: "2244994945"
    x_screen_name: acme
    currency: USD
    offers:
      - id: signed-vinyl
        title: Signed vinyl
        price: "25.00"
        per_customer_limit: 2
        post_ids: ["1001"]
        keywords: ["VINYL1"]
        variants: [{ name: black, stock: 3 }, { name: red, stock: 2 }]
      - id: tote
        title: Tote bag
        price: "18.00"
        stock: 10
        post_ids: ["1002"]
        keywords: ["TOTE"]
      - id: poster
        title: Poster
        price: "12.00"
        post_ids: ["1002"]
        keywords: ["POSTER"]
      - id: later
        title: Next drop
        price: "40.00"
        starts_at: 2027-01-01T17:00:00Z
        post_ids: ["1003"]
      - id: sticker
        title: Sticker
        price: "0"
        stock: 5
        per_customer_limit: 1
        post_ids: ["1004"]
        hashtags: ["#Claim"]
`

// recorder is an Outbox that keeps what the bot enqueued, deduplicated by
// key as the real outbox is.
type recorder struct {
	mu   sync.Mutex
	msgs []outbox.Message
	keys map[string]bool
}

func (r *recorder) Enqueue(ctx context.Context, msgs ...outbox.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		if r.keys[m.Key] {
			continue
		}
		r.keys[m.Key] = true
		r.msgs = append(r.msgs, m)
	}
	return nil
}

type harness struct {
	bot *bot.Bot
	out *recorder
	db  *storage.DB
	n   int
}

func newHarness(t testing.TB, now time.Time) *harness {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(testConfig), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cat := bot.CatalogFromConfig(cfg)
	clock := func() time.Time { return now }
	db := storagetest.Open(t, storage.DriverSQLite, storagetest.Options{Now: clock})
	if err := db.Shop().SyncStock(context.Background(), cat); err != nil {
		t.Fatal(err)
	}
	tpl, err := bot.NewTemplates(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := &recorder{keys: map[string]bool{}}
	b := &bot.Bot{
		Catalog:     func() *commerce.Catalog { return cat },
		Shop:        &commerce.Shop{Holds: db.Shop(), Carts: db.Shop(), HoldFor: 15 * time.Minute, Now: clock},
		Stores:      db.Shop(),
		Outbox:      out,
		Templates:   tpl,
		CartLinkTTL: 24 * time.Hour,
		Now:         clock,
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	return &harness{bot: b, out: out, db: db}
}

// reply delivers a shopper's reply to post as the inbox would.
func (h *harness) reply(t testing.TB, user int, inReplyTo, text string) []outbox.Message {
	t.Helper()
	h.n++
	payload := xsim.TweetCreate(merchantID, xsim.Tweet{ID: fmt.Sprint(5000 + h.n), Text: text, UserID: fmt.Sprint(900 + user),
		ScreenName: fmt.Sprintf("shopper%d", user), InReplyToStatusID: inReplyTo, InReplyToUserID: merchantID})
	return h.deliver(t, payload)
}

func (h *harness) dm(t *testing.T, user int, text string) []outbox.Message {
	t.Helper()
	h.n++
	payload := xsim.DirectMessage(merchantID, fmt.Sprint(7000+h.n), fmt.Sprint(900+user), merchantID, fmt.Sprintf("shopper%d", user), text, time.Now())
	return h.deliver(t, payload)
}

func (h *harness) deliver(t testing.TB, payload any) []outbox.Message {
	t.Helper()
	body, _ := json.Marshal(payload)
	_, evs, err := inbox.Split(body, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	before := len(h.out.msgs)
	for _, ev := range evs {
		if err := h.db.InTx(context.Background(), func(ctx context.Context) error { return h.bot.HandleEvent(ctx, ev) }); err != nil {
			t.Fatalf("handle %s: %v", ev.ID, err)
		}
	}
	return h.out.msgs[before:]
}

func TestBuyNowDMsALinkAndRepliesPubliclyWithoutPersonalData(t *testing.T) {
	h := newHarness(t, time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	msgs := h.reply(t, 1, "1001", "@acme #BuyNow red x2")
	if len(msgs) != 1 {
		t.Fatalf("enqueued %d messages, want 1 DM (the public reply follows it): %+v", len(msgs), msgs)
	}
	dm := msgs[0]
	if dm.Kind != outbox.KindDM || dm.RecipientID != "901" || dm.Priority != outbox.PriorityCheckout {
		t.Fatalf("DM = %+v", dm)
	}
	for _, want := range []string{"2 × Signed vinyl (red)", "$50.00", "15 minutes", outbox.LinkPlaceholder} {
		if !strings.Contains(dm.Text, want) {
			t.Errorf("DM %q lacks %q", dm.Text, want)
		}
	}
	if dm.Link == nil || dm.Link.Target.Kind != commerce.LinkHold || dm.Link.BuyerID != "901" {
		t.Fatalf("DM link = %+v", dm.Link)
	}
	if dm.OnSent == nil || dm.OnSent.Kind != outbox.KindReply || dm.OnSent.InReplyTo != "5001" {
		t.Fatalf("public reply after the DM = %+v", dm.OnSent)
	}
	for _, pub := range []*outbox.Message{dm.OnSent, dm.OnDMClosed} {
		if !strings.HasPrefix(pub.Text, "@shopper1 ") || strings.Contains(pub.Text, "$") || strings.Contains(pub.Text, "http") || pub.Link != nil {
			t.Errorf("public reply carries private data: %q", pub.Text)
		}
	}
	if !strings.Contains(dm.OnDMClosed.Text, `"buy"`) {
		t.Errorf("DM-closed fallback %q does not say to DM buy", dm.OnDMClosed.Text)
	}
}

func TestAnswersForEveryWayAReplyCanGoWrong(t *testing.T) {
	h := newHarness(t, time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	// Sell out the red variant.
	h.reply(t, 1, "1001", "#BuyNow red x2")
	cases := []struct {
		name, post, text, want string
		group                  bool
	}{
		{"sold out", "1001", "#BuyNow red", "sold out", true},
		{"no variant named", "1001", "#BuyNow", "black or red", false},
		{"unknown variant", "1001", "#BuyNow green", "black or red", false},
		{"two offers on one post", "1002", "#BuyNow", "Tote bag (TOTE) or Poster (POSTER)", false},
		{"not on sale yet", "1003", "#BuyNow", "goes on sale Jan 1 at 17:00 UTC", false},
		{"over the limit", "1001", "#BuyNow black x3", "limited to 2 per customer", false},
	}
	for i, c := range cases {
		msgs := h.reply(t, 10+i, c.post, c.text)
		if len(msgs) != 1 || msgs[0].Kind != outbox.KindReply || !strings.Contains(msgs[0].Text, c.want) {
			t.Errorf("%s: answers %+v, want one public reply containing %q", c.name, msgs, c.want)
			continue
		}
		if (msgs[0].Group != "") != c.group || (c.group && msgs[0].Collapse == nil) {
			t.Errorf("%s: group %q collapse %v", c.name, msgs[0].Group, msgs[0].Collapse)
		}
	}
	// The keyword decides between offers sharing a post.
	msgs := h.reply(t, 30, "1002", "#BuyNow TOTE")
	if len(msgs) != 1 || msgs[0].Kind != outbox.KindDM || !strings.Contains(msgs[0].Text, "Tote bag") {
		t.Fatalf("keyword reply = %+v", msgs)
	}
}

func TestIgnoredPosts(t *testing.T) {
	h := newHarness(t, time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	cases := map[string]any{
		"merchant's own post": xsim.TweetCreate(merchantID, xsim.Tweet{ID: "1", Text: "#BuyNow red", UserID: merchantID, ScreenName: "acme", InReplyToStatusID: "1001"}),
		"retweet":             xsim.TweetCreate(merchantID, xsim.Tweet{ID: "2", Text: "RT #BuyNow red", UserID: "77", ScreenName: "x", InReplyToStatusID: "1001", Retweet: true}),
		"quote":               xsim.TweetCreate(merchantID, xsim.Tweet{ID: "3", Text: "#BuyNow red", UserID: "78", ScreenName: "y", InReplyToStatusID: "1001", Quote: true}),
		"tag on a word":       xsim.TweetCreate(merchantID, xsim.Tweet{ID: "4", Text: "#BuyNowPlease red", UserID: "79", ScreenName: "z", InReplyToStatusID: "1001"}),
		"no tag":              xsim.TweetCreate(merchantID, xsim.Tweet{ID: "5", Text: "love it", UserID: "80", ScreenName: "w", InReplyToStatusID: "1001"}),
	}
	for name, p := range cases {
		if msgs := h.deliver(t, p); len(msgs) != 0 {
			t.Errorf("%s: answered %+v, want nothing", name, msgs)
		}
	}
}

func TestCartTagAddsToCartAndSaysWhatIsInIt(t *testing.T) {
	h := newHarness(t, time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	h.reply(t, 1, "1002", "#AddToCart TOTE x2")
	msgs := h.reply(t, 1, "1001", "#Cart black")
	if len(msgs) != 1 || msgs[0].Link == nil || msgs[0].Link.Target.Kind != commerce.LinkCart {
		t.Fatalf("cart answer = %+v", msgs)
	}
	if want := "2 × Tote bag, 1 × Signed vinyl (black), $61.00"; !strings.Contains(msgs[0].Text, want) {
		t.Fatalf("cart DM %q lacks %q", msgs[0].Text, want)
	}
	if msgs[0].OnSent == nil || !strings.Contains(msgs[0].OnSent.Text, "cart") {
		t.Fatalf("public cart reply = %+v", msgs[0].OnSent)
	}
}

func TestFreeOfferIsClaimedWithoutPrice(t *testing.T) {
	h := newHarness(t, time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	msgs := h.reply(t, 1, "1004", "#claim")
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "free") || strings.Contains(msgs[0].Text, "$") {
		t.Fatalf("claim answer = %+v", msgs)
	}
	if msgs := h.reply(t, 1, "1004", "#Claim x2"); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "limited to 1") {
		t.Fatalf("second claim = %+v", msgs)
	}
}

func TestDMCommands(t *testing.T) {
	h := newHarness(t, time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC))
	check := func(text, want string, link bool) {
		t.Helper()
		msgs := h.dm(t, 1, text)
		if len(msgs) != 1 || msgs[0].Kind != outbox.KindDM || msgs[0].RecipientID != "901" || !strings.Contains(msgs[0].Text, want) || (msgs[0].Link != nil) != link {
			t.Fatalf("DM %q answered %+v, want a DM containing %q (link %v)", text, msgs, want, link)
		}
	}
	check("help", "#BuyNow", false)
	check("/HELP", "#BuyNow", false)
	check("buy", "nothing on hold", false)
	check("cart", "empty", false)
	check("orders", "Your orders with acme", true)
	check("empty", "is empty now", false)
	check("stop", "Reminders are off", false)
	if off, _ := h.db.Shop().RemindersOff(context.Background(), "901"); !off {
		t.Fatal("stop did not turn reminders off")
	}
	check("Start", "Reminders are on", false)
	if off, _ := h.db.Shop().RemindersOff(context.Background(), "901"); off {
		t.Fatal("start did not turn reminders on")
	}
	check("yes", "nothing waiting", false)
	check("forget", "Reply YES", false)
	check("YES", "erased", false)
	check("what's up?", "didn't get that", false)

	// After a DM-closed fallback, "buy" by DM continues privately.
	h.reply(t, 1, "1001", "#BuyNow black")
	check("buy", "1 × Signed vinyl (black)", true)
	h.reply(t, 1, "1002", "#AddToCart POSTER")
	check("cart", "1 × Poster", true)
}

func TestPublicTemplatesCannotCarryTheLink(t *testing.T) {
	_, err := bot.NewTemplates(map[string]map[string]string{"acme": {"reply_check_dms": "@{{.Handle}} pay here {{.Link}}"}})
	if err == nil || !strings.Contains(err.Error(), "reply_check_dms") {
		t.Fatalf("a public template using .Link was accepted: %v", err)
	}
	if _, err := bot.NewTemplates(map[string]map[string]string{"acme": {"dm_checkout": "Pay {{.Total}}: {{.Link}}"}}); err != nil {
		t.Fatalf("a valid override was refused: %v", err)
	}
}
