package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/bot"
	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/storage"
)

// runTry runs hashcart try in an empty directory with env added, and
// returns its output and exit code.
func runTry(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	example, err := filepath.Abs("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, append([]string{"try", "--config", example}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(cmd.Dir); len(entries) > 0 {
		t.Errorf("try left files behind: %v", entries)
	}
	return out.String(), code
}

// try on each example offer prints its match, its hold and the messages;
// replies that match nothing say why and exit 3.
func TestTryPrintsWhatTheBotWouldAnswer(t *testing.T) {
	const drop = "2026-12-01T18:00:00Z" // signed-vinyl's sale window
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"variant and quantity, post inferred", []string{"--at", drop, "--as", "@ada", "@acme #BuyNow red x2"}, 0,
			[]string{"match:    offer signed-vinyl", "variant red, quantity 2", "hold:     2 × Signed vinyl, first pressing (red), $50.00", "stock:    38 left",
				"DM to @ada:\n    2 × Signed vinyl, first pressing (red): $50.00. Held for you for 15 minutes. Check out securely here: <private link>",
				"@ada Got it! Check your DMs"}},
		{"tote by its post", []string{"--post", "1860000000000000002", "#BuyNow x3"}, 0,
			[]string{"match:    offer tote-bag", "hold:     3 × Acme tote bag, $54.00", "<private link>"}},
		{"tote by keyword in a mention", []string{"@acme #BuyNow TOTE"}, 0,
			[]string{"a mention of @acme", "match:    offer tote-bag"}},
		{"giveaway", []string{"@acme #Claim"}, 0,
			[]string{"match:    offer sticker", "is yours to claim, free"}},
		{"cart", []string{"--at", drop, "@acme #AddToCart VINYL1 black"}, 0,
			[]string{"match:    offer signed-vinyl", "add to cart", "cart:     1 line(s), $25.00"}},
		{"before the drop", []string{"--at", "2026-11-01T00:00:00Z", "@acme #BuyNow red"}, 3,
			[]string{"match:    offer signed-vinyl", "goes on sale Dec 1 at 17:00 UTC", "no hold:"}},
		{"no hashtag", []string{"@acme love it"}, 3,
			[]string{"no match: the reply has no hashtag"}},
		{"tag the offer does not take", []string{"--post", "1860000000000000002", "#Gimme"}, 3,
			[]string{"no match: the reply's tags #gimme are not the offer's: tote-bag takes #buynow #addtocart #cart; the bot stays silent"}},
		{"post of no offer", []string{"--post", "999", "#BuyNow"}, 3,
			[]string{"no match: post 999 is not one of acme's offer posts"}},
		{"ambiguous without --post", []string{"@acme #BuyNow"}, 3,
			[]string{"several offers take these tags: signed-vinyl", "--post"}},
		{"no text", nil, 2, []string{"usage: hashcart try"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runTry(t, nil, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if code == 0 && strings.Contains(out, "[[link]]") {
				t.Errorf("the link placeholder leaked")
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// With --db, try sees real stock (a unit already held) and leaves the
// database as it was: no hold, no buyer, nothing in the outbox.
func TestTryOnTheRealDatabaseChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dsn := filepath.Join(dir, "shop.db")
	cfg, err := config.Load("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(ctx, storage.DriverSQLite, dsn, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cat := bot.CatalogFromConfig(cfg)
	if err := db.Shop().SyncStock(ctx, cat); err != nil {
		t.Fatal(err)
	}
	tote, _ := cat.Offer("acme", "tote-bag")
	shop := &commerce.Shop{Holds: db.Shop(), Carts: db.Shop(), HoldFor: 15 * time.Minute, Now: time.Now}
	if _, _, err := shop.Buy(ctx, commerce.Match{Offer: tote, Quantity: 4}, commerce.Buyer{XUserID: "77", ScreenName: "early"}); err != nil {
		t.Fatal(err)
	}
	out, code := runTry(t, []string{"HASHCART_DB_DSN=" + dsn}, "--db", "--post", "1860000000000000002", "#BuyNow x2")
	if code != 0 || !strings.Contains(out, "stock:    44 left after this hold") || !strings.Contains(out, "real stock from the configured database") {
		t.Fatalf("exit %d, want 0 and 44 left (50 - 4 held - 2):\n%s", code, out)
	}
	left, err := db.Shop().Remaining(ctx, tote)
	if err != nil || left[""] == nil || *left[""] != 46 {
		got := -1
		if left[""] != nil {
			got = *left[""]
		}
		t.Fatalf("remaining after try = %d (%v), want 46: try changed stock", got, err)
	}
	if _, err := db.Shop().LatestActiveHold(ctx, "acme", tryBuyerID, time.Now()); !errors.Is(err, commerce.ErrNotFound) {
		t.Fatalf("try left a hold: %v", err)
	}
	counts, err := db.Outbox().Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for status, n := range counts {
		if n != 0 {
			t.Fatalf("try left %d %s messages in the outbox", n, status)
		}
	}
}

// With --db and no database file, try refuses rather than create one.
func TestTryDoesNotCreateADatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.db")
	out, code := runTry(t, []string{"HASHCART_DB_DSN=" + missing}, "--db", "@acme #Claim")
	if code != 1 || !strings.Contains(out, "--db") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("try created %s", missing)
	}
}
