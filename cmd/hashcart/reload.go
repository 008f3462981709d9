package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hashcart/hashcart/bot"
	"github.com/hashcart/hashcart/config"
)

// reloadPollEnv sets how often the configuration file is looked at for
// changes (a Go duration; "0" turns polling off, SIGHUP still reloads).
const reloadPollEnv = "HASHCART_CONFIG_POLL"

// defaultReloadPoll is how often the file is read when the env says nothing.
const defaultReloadPoll = 2 * time.Second

// watchConfig reloads the offers and templates of the running service when
// the configuration file changes (its content hash, read every poll
// interval) or the process gets SIGHUP, until ctx ends.
//
// What reloads: each configured merchant's offers, templates, name,
// x_screen_name and currency. Everything else (server, storage, x, payments,
// jobs, reminders, intake, outbox, log, a merchant's credentials,
// x_user_id and order_webhook, adding or removing merchants) is wired at
// start: a change to it is logged as needing a restart and not applied.
// A file that does not pass `hashcart check` is refused as a whole, with
// its problems logged, and the offers in force keep serving.
func (s *service) watchConfig(ctx context.Context, log *slog.Logger) {
	path := s.cfg.File
	poll := defaultReloadPoll
	if v := os.Getenv(reloadPollEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			log.Warn("ignoring "+reloadPollEnv+": want a duration such as 2s, or 0 for SIGHUP only", "value", v)
		} else {
			poll = d
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	cur := s.cfg // in force; only this goroutine changes it
	last, _ := fileHash(path)
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			last, _ = fileHash(path)
			cur = s.reload(ctx, cur, "SIGHUP", log)
		case <-tick:
			h, err := fileHash(path)
			if err != nil || bytes.Equal(h, last) {
				// A file being replaced may be missing for a moment; the
				// next poll sees the new one.
				continue
			}
			last = h
			cur = s.reload(ctx, cur, "file changed", log)
		}
	}
}

func fileHash(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(b)
	return h[:], nil
}

// reload reads the configuration file and, when it is valid, puts its
// offers and templates in force. It logs the outcome either way and returns
// the configuration in force afterwards.
func (s *service) reload(ctx context.Context, cur *config.Config, why string, log *slog.Logger) *config.Config {
	refuse := func(err error) *config.Config {
		// One line per problem, each "file:line: message (hint)".
		for _, p := range strings.Split(err.Error(), "\n") {
			log.Error("offers not reloaded", "trigger", why, "problem", p)
		}
		log.Error("offers not reloaded: fix the file (hashcart check shows every problem); the previous offers keep serving", "trigger", why, "file", cur.File)
		return cur
	}
	next, err := config.Load(cur.File)
	if err != nil {
		return refuse(err)
	}
	merged, restart := reloadable(cur, next)
	tpl, err := templatesFor(merged)
	if err != nil {
		return refuse(err)
	}
	cat := bot.CatalogFromConfig(merged)
	// Counters first, so every offer of the new catalog has one when a
	// reservation reads it; sold and held are recounted, not reset.
	short, err := s.db.Shop().SyncStockReport(ctx, cat)
	if err != nil {
		return refuse(fmt.Errorf("sync stock: %w", err))
	}
	s.catalog.Store(cat)
	s.bot.Templates.Replace(tpl)

	for _, sh := range short {
		log.Warn("stock set below what is already sold and held; none left for sale",
			"merchant", sh.MerchantID, "offer", sh.OfferID, "variant", sh.Variant, "stock", sh.Configured, "sold_and_held", sh.Taken)
	}
	if len(restart) > 0 {
		log.Warn("configuration changes that need a restart were not applied", "keys", strings.Join(restart, ", "))
	}
	offers := 0
	for _, m := range merged.Merchants {
		offers += len(m.Offers)
	}
	log.Info("offers reloaded", "trigger", why, "merchants", len(merged.Merchants), "offers", offers, "file", cur.File)
	return merged
}

// reloadable returns the configuration in force after a reload: cur with
// next's reloadable parts (each existing merchant's offers, templates,
// name, screen name and currency), and the keys of next that differ from
// cur and need a restart.
func reloadable(cur, next *config.Config) (*config.Config, []string) {
	merged := *cur
	merged.Merchants = make([]config.Merchant, len(cur.Merchants))
	var restart []string

	cv, nv := reflect.ValueOf(*cur), reflect.ValueOf(*next)
	for i := 0; i < cv.NumField(); i++ {
		name := yamlKey(cv.Type().Field(i))
		if name == "" || name == "merchants" {
			continue
		}
		if !reflect.DeepEqual(cv.Field(i).Interface(), nv.Field(i).Interface()) {
			restart = append(restart, name)
		}
	}
	byID := map[string]config.Merchant{}
	for _, m := range next.Merchants {
		byID[m.ID] = m
	}
	for i, m := range cur.Merchants {
		n, ok := byID[m.ID]
		merged.Merchants[i] = m
		if !ok {
			restart = append(restart, fmt.Sprintf("merchants[%s] (removed; it keeps serving until a restart)", m.ID))
			continue
		}
		delete(byID, m.ID)
		kept := m
		kept.Name, kept.XScreenName, kept.Currency, kept.Offers, kept.Templates, kept.Line = n.Name, n.XScreenName, n.Currency, n.Offers, n.Templates, n.Line
		merged.Merchants[i] = kept
		mv, kv := reflect.ValueOf(n), reflect.ValueOf(kept)
		for j := 0; j < mv.NumField(); j++ {
			key := yamlKey(mv.Type().Field(j))
			if key != "" && !reflect.DeepEqual(mv.Field(j).Interface(), kv.Field(j).Interface()) {
				restart = append(restart, fmt.Sprintf("merchants[%s].%s", m.ID, key))
			}
		}
	}
	var added []string
	for id := range byID {
		added = append(added, fmt.Sprintf("merchants[%s] (new)", id))
	}
	sort.Strings(added)
	return &merged, append(restart, added...)
}

// yamlKey is a struct field's key in the file, "" for fields not read
// from it.
func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}
