package config

import (
	"os"
	"testing"
)

func TestExampleConfigLoadsWithNoEnvironment(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	data := readFile(t, "../config.example.yaml")
	c, err := Parse("config.example.yaml", data, noEnv)
	if err != nil {
		t.Fatalf("example config does not load:\n%v", err)
	}
	if got, want := c.Summary(), "config.example.yaml: ok, 1 merchant, 3 offers, 2 variants"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if got := c.X.ConsumerSecret; got != "demo-consumer-secret" {
		t.Errorf("consumer_secret = %q, want the demo default", got)
	}
	if c.Storage.Driver != "sqlite" || c.Storage.DSN != "hashcart.db" {
		t.Errorf("storage = %+v, want the sqlite demo defaults", c.Storage)
	}
	m, ok := c.MerchantByXUserID("2244994945")
	if !ok || m.ID != "acme" {
		t.Fatalf("MerchantByXUserID(2244994945) = %v, %v", m, ok)
	}
	if m.OrderWebhook.Secret != "demo-order-secret" {
		t.Errorf("order webhook secret = %q", m.OrderWebhook.Secret)
	}
	sticker := m.Offers[2]
	if sticker.Amount.Amount != 0 || sticker.Amount.Currency != "USD" || *sticker.Stock != 200 {
		t.Errorf("sticker = %+v, want a free USD offer with 200 in stock", sticker)
	}
	if tote := m.Offers[1]; tote.Amount.String() != "$18.00" || tote.StartsAt != nil || len(tote.Hashtags) != 1 {
		t.Errorf("tote = %+v, want $18.00 on sale now with default hashtags", tote)
	}
}

func TestLoadReadsEnvironment(t *testing.T) {
	t.Setenv("HASHCART_X_CONSUMER_SECRET", "from-env")
	c, err := Load("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.X.ConsumerSecret != "from-env" {
		t.Errorf("consumer_secret = %q, want the environment's value", c.X.ConsumerSecret)
	}
	if c.File != "../config.example.yaml" {
		t.Errorf("File = %q", c.File)
	}
}

func TestLoadMissingFileIsAnOSError(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	if _, ok := err.(*Problems); ok {
		t.Errorf("a missing file should not be a *Problems: %v", err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
