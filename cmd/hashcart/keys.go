package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/vault"
)

// keysUsage is the usage of the keys command.
const keysUsage = `usage: hashcart keys new [ID]                 print a new data key to append to HASHCART_DATA_KEY
       hashcart keys rotate [--config FILE]   re-encrypt data sealed with older keys under the newest`

// rotateBatch is how many rows keys rotate re-seals per transaction.
const rotateBatch = 500

// keysCmd manages data keys. "new" prints a key to add to
// HASHCART_DATA_KEY: append it after the current keys (newest last), so
// new writes use it and older rows still read. "rotate" re-encrypts every
// value sealed with an older key under the newest one, after which the
// older keys can be dropped.
func keysCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, keysUsage)
		return 2
	}
	switch args[0] {
	case "new":
		return keysNewCmd(args[1:], stdout, stderr)
	case "rotate":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return keysRotateCmd(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintln(stderr, keysUsage)
		return 2
	}
}

// keysNewCmd prints a new key spec entry, with the given id or one made
// from today's date.
func keysNewCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		fmt.Fprintln(stderr, keysUsage)
		return 2
	}
	id := "k" + time.Now().UTC().Format("20060102")
	if len(args) == 1 {
		id = args[0]
	}
	spec, err := vault.Generate(id)
	if err != nil {
		fmt.Fprintln(stderr, "hashcart keys new:", err)
		return 1
	}
	fmt.Fprintln(stdout, spec)
	return 0
}

// keysRotateCmd re-seals, with the newest data key, every address and
// contact sealed with an older one. It may run while hashcart serves, once
// every instance has the new key; running it again is harmless.
func keysRotateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	path := configFlag(fs)
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	keys, err := dataKeyring(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "hashcart keys rotate:", err)
		return 1
	}
	db, err := storage.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN, storage.Options{MaxOpenConns: cfg.Storage.MaxOpenConns, Logger: log, Sealer: keys})
	if err != nil {
		fmt.Fprintln(stderr, "hashcart keys rotate:", err)
		return 1
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		fmt.Fprintln(stderr, "hashcart keys rotate:", err)
		return 1
	}
	n, err := db.RotateKeys(ctx, keys, rotateBatch)
	if err != nil {
		fmt.Fprintln(stderr, "hashcart keys rotate:", err)
		if n > 0 {
			fmt.Fprintf(stderr, "hashcart keys rotate: %d values were re-encrypted with key %s before this; run again once the problem is fixed\n", n, keys.Current())
		}
		switch {
		case errors.Is(err, vault.ErrUnknownKey):
			fmt.Fprintf(stderr, "hint: a key still in use is missing from %s: keep every older key in it (newest last) until keys rotate succeeds\n", vault.EnvVar)
		case errors.Is(err, vault.ErrCorrupt):
			fmt.Fprintln(stderr, "hint: that value was altered or copied from another row and no key can open it: restore the row from a backup")
		}
		return 1
	}
	fmt.Fprintf(stdout, "re-encrypted %d values with key %s\n", n, keys.Current())
	return 0
}
