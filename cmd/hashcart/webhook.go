package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashcart/hashcart/bot/xapi"
	"github.com/hashcart/hashcart/config"
)

// webhookUsage is the usage of the webhook command.
const webhookUsage = `usage: hashcart webhook register    [--url URL] [--merchant ID]   register the webhook with X (X sends it a CRC challenge first)
       hashcart webhook list                                  the app's webhooks and the accounts subscribed to them
       hashcart webhook subscribe   --merchant ID [--id WEBHOOK]  send that merchant's account activity to the webhook
       hashcart webhook unsubscribe --merchant ID [--id WEBHOOK]  stop sending it
       hashcart webhook crc         [--id WEBHOOK] [--merchant ID]  make X re-check the webhook (a new CRC challenge)
       hashcart webhook delete      [--id WEBHOOK] [--merchant ID]  remove the webhook from X
Every subcommand takes --config FILE. --url defaults to server.public_url + x.webhook_path;
without --id the webhook registered for that URL is used. With x.api_version "1.1" the
calls go to account_activity/all/{x.environment}, and register, crc and delete are signed
with a merchant's tokens (--merchant, default the first one), as X wants user context there.`

// webhookTimeout bounds one webhook command; X's CRC challenge alone may take
// a few seconds.
const webhookTimeout = 60 * time.Second

// webhookCmd sets up X's Account Activity API for this hashcart: it registers
// the webhook, subscribes merchants' accounts, and lists, re-checks or
// deletes what X has. Exit 0 on success, 1 when X refuses or cannot be
// reached or the configuration does not allow the call, 2 on bad usage.
func webhookCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, webhookUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("webhook "+sub, flag.ContinueOnError)
	path := configFlag(fs)
	var hookURL, id, merchant *string
	switch sub {
	case "register":
		hookURL = fs.String("url", "", "webhook URL (default: server.public_url + x.webhook_path)")
		merchant = fs.String("merchant", "", "merchant whose tokens sign the v1.1 call (default: the first)")
	case "list":
	case "subscribe", "unsubscribe":
		merchant = fs.String("merchant", "", "merchant id (required)")
		id = fs.String("id", "", "webhook id (default: the one registered for --url)")
		hookURL = fs.String("url", "", "webhook URL used to find the webhook without --id")
	case "crc", "delete":
		id = fs.String("id", "", "webhook id (default: the one registered for --url)")
		hookURL = fs.String("url", "", "webhook URL used to find the webhook without --id")
		merchant = fs.String("merchant", "", "merchant whose tokens sign the v1.1 call (default: the first)")
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, webhookUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "hashcart webhook: unknown subcommand %q\n%s\n", sub, webhookUsage)
		return 2
	}
	if !parseFlags(fs, rest, stderr) {
		return 2
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if (sub == "subscribe" || sub == "unsubscribe") && str(merchant) == "" {
		fmt.Fprintf(stderr, "hashcart webhook %s: --merchant is required\n", sub)
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	w, err := newWebhookSetup(cfg, str(hookURL), str(merchant), stdout)
	if err != nil {
		fmt.Fprintf(stderr, "hashcart webhook %s: %v\n", sub, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	switch sub {
	case "register":
		err = w.register(ctx)
	case "list":
		err = w.list(ctx)
	case "subscribe":
		err = w.subscribe(ctx, str(id))
	case "unsubscribe":
		err = w.unsubscribe(ctx, str(id))
	case "crc":
		err = w.crc(ctx, str(id))
	case "delete":
		err = w.delete(ctx, str(id))
	}
	if err != nil {
		fmt.Fprintf(stderr, "hashcart webhook %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// webhookSetup is one webhook command's configuration and client.
type webhookSetup struct {
	cfg      *config.Config
	api      *xapi.Activity
	url      string            // the webhook URL: --url or public_url + webhook_path
	merchant *config.Merchant  // --merchant, or the first merchant (nil if none)
	names    map[string]string // X user id -> merchant id
	out      io.Writer
}

func newWebhookSetup(cfg *config.Config, hookURL, merchantID string, out io.Writer) (*webhookSetup, error) {
	if cfg.X.ConsumerKey == "" {
		return nil, errors.New("x.consumer_key is required to set up webhooks (with x.consumer_secret it gets the app's bearer token)")
	}
	if cfg.X.APIVersion == "1.1" && cfg.X.Environment == "" {
		return nil, errors.New(`x.environment is required with x.api_version "1.1": the label of the Account Activity environment (developer portal, "Dev environments")`)
	}
	api, err := xapi.NewActivity(xapi.ActivityConfig{
		Version: cfg.X.APIVersion, BaseURL: cfg.X.APIBaseURL, Environment: cfg.X.Environment,
		ConsumerKey: cfg.X.ConsumerKey, ConsumerSecret: cfg.X.ConsumerSecret,
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
	})
	if err != nil {
		return nil, err
	}
	if hookURL == "" {
		hookURL = strings.TrimSuffix(cfg.Server.PublicURL, "/") + cfg.X.WebhookPath
	}
	w := &webhookSetup{cfg: cfg, api: api, url: hookURL, names: map[string]string{}, out: out}
	for i := range cfg.Merchants {
		m := &cfg.Merchants[i]
		w.names[m.XUserID] = m.ID
		if (merchantID == "" && w.merchant == nil) || m.ID == merchantID {
			w.merchant = m
		}
	}
	if merchantID != "" && (w.merchant == nil || w.merchant.ID != merchantID) {
		return nil, fmt.Errorf("no merchant %q in %s", merchantID, cfg.File)
	}
	return w, nil
}

// creds returns the Credentials of the chosen merchant.
func (w *webhookSetup) creds() (xapi.Credentials, error) {
	if w.merchant == nil {
		return xapi.Credentials{}, fmt.Errorf("no merchant in %s to sign the call with", w.cfg.File)
	}
	m := w.merchant
	if m.AccessToken == "" || m.AccessSecret == "" {
		return xapi.Credentials{}, fmt.Errorf("merchant %q has no access_token/access_secret", m.ID)
	}
	return xapi.Credentials{ConsumerKey: w.cfg.X.ConsumerKey, ConsumerSecret: w.cfg.X.ConsumerSecret,
		AccessToken: m.AccessToken, AccessSecret: m.AccessSecret}, nil
}

// owner returns the Credentials that sign v1.1 user-context calls; v2 needs
// none.
func (w *webhookSetup) owner() (xapi.Credentials, error) {
	if w.cfg.X.APIVersion == "2" {
		return xapi.Credentials{}, nil
	}
	return w.creds()
}

// crcHint explains a failed CRC challenge in terms of this installation.
func (w *webhookSetup) crcHint(err error, hookURL string) error {
	var ae *xapi.APIError
	if errors.Is(err, xapi.ErrWebhookInvalid) || (errors.As(err, &ae) && strings.Contains(strings.ToLower(ae.Message), "crc")) {
		return fmt.Errorf("%w\n  X could not verify %s: it must be reachable from X, served by \"hashcart serve\" (GET %s?crc_token=...) and use the same x.consumer_secret as this configuration", err, hookURL, w.cfg.X.WebhookPath)
	}
	return err
}

func (w *webhookSetup) register(ctx context.Context) error {
	owner, err := w.owner()
	if err != nil {
		return err
	}
	hook, err := w.api.Register(ctx, owner, w.url)
	if err != nil {
		if id, lerr := w.webhookID(ctx, ""); lerr == nil {
			return fmt.Errorf("%w\n  X already has webhook %s for %s; hashcart webhook crc re-checks it", err, id, w.url)
		}
		return w.crcHint(err, w.url)
	}
	fmt.Fprintf(w.out, "registered webhook %s for %s: X's CRC challenge was answered (valid: %t)\n", hook.ID, hook.URL, hook.Valid)
	fmt.Fprintln(w.out, "next: hashcart webhook subscribe --merchant ID, for each merchant")
	return nil
}

func (w *webhookSetup) list(ctx context.Context) error {
	hooks, err := w.api.Webhooks(ctx)
	if err != nil {
		return err
	}
	if len(hooks) == 0 {
		fmt.Fprintln(w.out, "no webhook registered with X for this app (hashcart webhook register)")
		return nil
	}
	for _, h := range hooks {
		state := "valid"
		if !h.Valid {
			state = "INVALID (failed its last CRC challenge; hashcart webhook crc)"
		}
		created := ""
		if !h.CreatedAt.IsZero() {
			created = "  registered " + h.CreatedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w.out, "webhook %s  %s  %s%s\n", h.ID, h.URL, state, created)
		subs, err := w.api.Subscriptions(ctx, h.ID)
		if err != nil {
			return err
		}
		if len(subs) == 0 {
			fmt.Fprintln(w.out, "  no subscribed accounts")
		}
		for _, u := range subs {
			name, ok := w.names[u]
			if !ok {
				name = "not a configured merchant"
			}
			fmt.Fprintf(w.out, "  subscribed: %s (%s)\n", u, name)
		}
	}
	return nil
}

// webhookID returns id, or the id of the webhook registered for w.url.
func (w *webhookSetup) webhookID(ctx context.Context, id string) (string, error) {
	if id != "" {
		return id, nil
	}
	hooks, err := w.api.Webhooks(ctx)
	if err != nil {
		return "", err
	}
	for _, h := range hooks {
		if h.URL == w.url {
			return h.ID, nil
		}
	}
	return "", fmt.Errorf("no webhook registered for %s (%d other(s); see hashcart webhook list, or pass --id)", w.url, len(hooks))
}

func (w *webhookSetup) subscribe(ctx context.Context, id string) error {
	creds, err := w.creds()
	if err != nil {
		return err
	}
	if w.cfg.X.APIVersion == "2" {
		if id, err = w.webhookID(ctx, id); err != nil {
			return err
		}
	}
	if err := w.api.Subscribe(ctx, id, creds); err != nil {
		return err
	}
	fmt.Fprintf(w.out, "subscribed merchant %s (X user %s): X now sends its account activity to %s\n", w.merchant.ID, w.merchant.XUserID, w.target(id))
	return nil
}

func (w *webhookSetup) unsubscribe(ctx context.Context, id string) error {
	var err error
	if w.cfg.X.APIVersion == "2" {
		if id, err = w.webhookID(ctx, id); err != nil {
			return err
		}
	}
	if err := w.api.Unsubscribe(ctx, id, w.merchant.XUserID); err != nil {
		return err
	}
	fmt.Fprintf(w.out, "unsubscribed merchant %s (X user %s) from %s\n", w.merchant.ID, w.merchant.XUserID, w.target(id))
	return nil
}

// target names what subscriptions attach to: a v2 webhook or a v1.1
// environment.
func (w *webhookSetup) target(id string) string {
	if w.cfg.X.APIVersion == "2" {
		return "webhook " + id
	}
	return "environment " + w.cfg.X.Environment
}

func (w *webhookSetup) crc(ctx context.Context, id string) error {
	owner, err := w.owner()
	if err != nil {
		return err
	}
	if id, err = w.webhookID(ctx, id); err != nil {
		return err
	}
	if err := w.api.Validate(ctx, owner, id); err != nil {
		return w.crcHint(err, w.url)
	}
	fmt.Fprintf(w.out, "X re-checked webhook %s: the CRC challenge was answered, the webhook is valid\n", id)
	return nil
}

func (w *webhookSetup) delete(ctx context.Context, id string) error {
	owner, err := w.owner()
	if err != nil {
		return err
	}
	if id, err = w.webhookID(ctx, id); err != nil {
		return err
	}
	if err := w.api.Delete(ctx, owner, id); err != nil {
		return err
	}
	fmt.Fprintf(w.out, "deleted webhook %s\n", id)
	return nil
}
