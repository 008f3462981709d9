package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/hashcart/hashcart"
	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/demo"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/xsim"
)

// defaultDemoListen is where the demo listens unless told otherwise; when
// it is taken, the demo takes any free port instead.
const defaultDemoListen = "127.0.0.1:8080"

// demoCmd runs the whole service on the example configuration with the X
// simulator for X, sandbox payments, SQLite in a folder of its own, and
// the demo page, until ctx ends. It prints the page's URL on stdout.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration whose merchants and offers to run (default: the built-in config.example.yaml)")
	dataDir := fs.String("data", "", "keep the demo's database in `DIR` across runs (default: a temporary folder, removed at exit)")
	listen := fs.String("listen", defaultDemoListen, "`address` to serve the demo on (when the default is taken, a free port)")
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	listenSet := false
	fs.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })

	cfg, err := loadDemoConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprintln(stderr, "hashcart demo: not started: fix the configuration (hashcart check shows every problem)")
		return 1
	}
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "hashcart-demo-"); err != nil {
			fmt.Fprintf(stderr, "hashcart demo: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintf(stderr, "hashcart demo: data folder: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil && !listenSet {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		fmt.Fprintf(stderr, "hashcart demo: %v\n", err)
		return 1
	}
	public := publicURLFor(ln.Addr())

	// X: the simulator, on a listener of its own that only hashcart calls.
	sim := xsim.New(xsim.Options{ConsumerKey: cfg.X.ConsumerKey, ConsumerSecret: cfg.X.ConsumerSecret})
	xln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "hashcart demo: X simulator: %v\n", err)
		return 1
	}
	xsrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := xsrv.Serve(xln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "hashcart demo: X simulator stopped: %v\n", err)
		}
	}()
	defer xsrv.Close()

	cfg.Server.Listen = ln.Addr().String()
	tokens, secrets := demoWiring(cfg, dir, public, "http://"+xln.Addr().String())
	log := newLogger(cfg.Log, stderr)

	runCtx, stopPage := context.WithCancel(ctx)
	defer stopPage()
	var pageDone sync.WaitGroup
	defer pageDone.Wait()
	extras := serveExtras{
		listener: ln,
		mount: func(app *fiber.App, svc *service) {
			page := demo.New(demo.Options{
				Sim: sim, WebhookURL: public + cfg.X.WebhookPath, Catalog: svc.catalog.Load, Stock: svc.db.Shop(),
				Tokens: tokens, OrderSecrets: secrets, Log: log,
			})
			pageDone.Add(1)
			go func() { defer pageDone.Done(); page.Run(runCtx) }()
			h := adaptor.HTTPHandler(page.Handler())
			app.All(demo.Prefix, h)
			app.All(demo.Prefix+"/*", h)
			app.Get("/", func(c *fiber.Ctx) error { return c.Redirect(demo.Prefix, fiber.StatusSeeOther) })
		},
		ready: func(public string) {
			where := dir + " (removed at exit; --data DIR keeps it)"
			if *dataDir != "" {
				where = dir + " (kept)"
			}
			fmt.Fprintf(stderr, "hashcart demo: X is simulated, payments are sandbox, data in %s\n", where)
			fmt.Fprintf(stdout, "hashcart demo: open %s%s\n", public, demo.Prefix)
		},
	}
	if err := serveWith(ctx, cfg, log, extras); err != nil {
		log.Error("hashcart demo stopped", "err", err)
		return 1
	}
	return 0
}

// loadDemoConfig reads path, or the built-in example configuration when
// path is "".
func loadDemoConfig(path string) (*config.Config, error) {
	if path != "" {
		return config.Load(path)
	}
	return config.Parse(hashcart.ExampleConfigName, hashcart.ExampleConfig, os.LookupEnv)
}

// demoWiring points cfg at the demo's parts: SQLite in dir, sandbox
// payments, the X simulator at xAPI, the public URL, and each merchant's
// order_webhook at the demo page's receiver. Nothing else changes, so the
// demo runs what `hashcart serve` runs. It returns the merchants by access
// token and their order_webhook secrets.
func demoWiring(cfg *config.Config, dir, public, xAPI string) (tokens, secrets map[string]string) {
	cfg.Storage.Driver = storage.DriverSQLite
	cfg.Storage.DSN = filepath.Join(dir, "hashcart.db")
	cfg.Payments.Provider = "sandbox"
	cfg.X.APIBaseURL = xAPI
	cfg.Server.PublicURL = public
	tokens, secrets = map[string]string{}, map[string]string{}
	for i := range cfg.Merchants {
		m := &cfg.Merchants[i]
		m.OrderWebhook.URL = fmt.Sprintf("%s%s/merchant/%s/orders", public, demo.Prefix, m.ID)
		if m.OrderWebhook.Secret == "" {
			m.OrderWebhook.Secret = "demo-order-secret"
		}
		tokens[m.AccessToken] = m.ID
		secrets[m.ID] = m.OrderWebhook.Secret
	}
	return tokens, secrets
}

// publicURLFor is the URL a browser on this machine uses to reach addr.
func publicURLFor(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}
