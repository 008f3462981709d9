package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hashcart/hashcart/commerce"
	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/storage"
)

// ordersCmd lets a merchant pull its orders:
//
//	hashcart orders export --merchant acme --since 24h --format csv|json
func ordersCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(stderr, "usage: hashcart orders export --merchant ID [--since 24h] [--format csv|json] [--config FILE]")
		return 2
	}
	fs := flag.NewFlagSet("orders export", flag.ContinueOnError)
	path := configFlag(fs)
	merchant := fs.String("merchant", "", "merchant id (required)")
	since := fs.Duration("since", 24*time.Hour, "orders created within this long")
	format := fs.String("format", "csv", "csv or json")
	if !parseFlags(fs, args[1:], stderr) {
		return 2
	}
	if *merchant == "" || (*format != "csv" && *format != "json") {
		fmt.Fprintln(stderr, "hashcart orders export: --merchant is required and --format is csv or json")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	known := false
	for _, m := range cfg.Merchants {
		known = known || m.ID == *merchant
	}
	if !known {
		fmt.Fprintf(stderr, "hashcart orders export: no merchant %q in %s\n", *merchant, cfg.File)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	if err := exportOrders(context.Background(), cfg, log, *merchant, time.Now().Add(-*since), *format, stdout); err != nil {
		fmt.Fprintln(stderr, "hashcart orders export:", err)
		return 1
	}
	return 0
}

func exportOrders(ctx context.Context, cfg *config.Config, log *slog.Logger, merchant string, since time.Time, format string, w io.Writer) error {
	keys, err := dataKeyring(cfg, log)
	if err != nil {
		return err
	}
	db, err := storage.Open(ctx, cfg.Storage.Driver, cfg.Storage.DSN, storage.Options{Sealer: keys, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	orders, err := db.Orders().MerchantOrders(ctx, merchant, since)
	if err != nil {
		return err
	}
	if format == "json" {
		out := make([]commerce.HandoffOrder, len(orders))
		for i, o := range orders {
			out[i] = commerce.NewHandoffOrder("", o)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return commerce.WriteOrdersCSV(w, orders)
}
