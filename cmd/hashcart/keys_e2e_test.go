package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/vault"
)

func TestKeysRotateReencryptsWithTheNewestKey(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "h.db")
	keyA, _ := vault.Generate("a")
	keyB, _ := vault.Generate("b")
	ringA, _ := vault.Parse(keyA)
	db, err := storage.Open(context.Background(), storage.DriverSQLite, dsn, storage.Options{Sealer: ringA})
	if err != nil {
		t.Fatal(err)
	}
	db.Migrate(context.Background())
	saved := commerce.SavedDetails{Shipping: commerce.Address{Name: "Ada", Line1: "1 Main St", City: "Brooklyn", PostalCode: "11249", Country: "US"}, Contact: commerce.Contact{Email: "ada@example.com"}}
	if err := db.Orders().SaveDetails(context.Background(), "901", saved, time.Now()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("storage: { driver: sqlite, dsn: \""+dsn+"\" }\nx: { consumer_secret: s }\n"), 0o600)

	rotate := func(keys string) string {
		cmd := exec.Command(binary, "keys", "rotate", "--config", cfg)
		cmd.Env = append(os.Environ(), vault.EnvVar+"="+keys)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("keys rotate: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := rotate(keyA + "," + keyB); !strings.Contains(out, "re-encrypted 2 values with key b") {
		t.Fatalf("first rotation: %s", out)
	}
	if out := rotate(keyA + "," + keyB); !strings.Contains(out, "re-encrypted 0 values") {
		t.Fatalf("second rotation: %s", out)
	}
	ringB, _ := vault.Parse(keyB)
	db, err = storage.Open(context.Background(), storage.DriverSQLite, dsn, storage.Options{Sealer: ringB})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Orders().SavedDetails(context.Background(), "901")
	if err != nil || got.Shipping != saved.Shipping {
		t.Fatalf("with key b alone: %+v, %v", got, err)
	}
}
