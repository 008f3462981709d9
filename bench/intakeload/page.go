package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashcart/hashcart/xsim"
)

// pageRun says what a checkout page run starts and measures.
type pageRun struct {
	Hashcart    string
	Driver, DSN string
	WorkDir     string
	Keep        bool
	PIDFile     string
	RunID       string
	Label       string
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
	LowRate     float64
	LowDuration time.Duration
	Timeout     time.Duration
	Target      time.Duration
	// PageSlots, when above 0, is the server's page_concurrency.
	PageSlots int
}

func runPage(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("page", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c pageRun
	fs.StringVar(&c.Hashcart, "hashcart", "", "path of the hashcart binary to start (required)")
	fs.StringVar(&c.Driver, "driver", "sqlite", "storage driver: sqlite or postgres")
	fs.StringVar(&c.DSN, "dsn", "", "storage DSN (default: a fresh SQLite file in the work directory; for postgres, a DSN whose search_path is an empty schema)")
	fs.StringVar(&c.WorkDir, "workdir", "", "directory for the config, server log and SQLite file (default: a new temporary directory, removed afterwards)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the temporary work directory")
	fs.StringVar(&c.PIDFile, "pid-file", "", "write hashcart's process id here once it is healthy (to profile it)")
	fs.StringVar(&c.RunID, "run-id", "", "6 digits put in the reply's tweet and user id (default random)")
	fs.StringVar(&c.Label, "label", "", "name of this run in the result (default the driver)")
	fs.IntVar(&c.Concurrency, "concurrency", 200, "keep-alive clients of the load phase, each sending its next GET when the last is answered")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "requests sent first in each phase and not measured")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measurement window of the load phase")
	fs.Float64Var(&c.LowRate, "low-rate", 50, "requests per second of the low-rate phase (one client, open loop); 0 skips it")
	fs.DurationVar(&c.LowDuration, "low-duration", 10*time.Second, "measurement window of the low-rate phase")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.DurationVar(&c.Target, "target", 5*time.Millisecond, "p99 the run is judged against")
	fs.IntVar(&c.PageSlots, "page-concurrency", 0, "server.page_concurrency for hashcart (0: its default, cores + 1)")
	asJSON := fs.Bool("json", false, "also print the result as one JSON line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	res, err := c.run(ctx, log)
	if err != nil {
		return err
	}
	for _, l := range res.Lines(c.Target) {
		fmt.Fprintln(stdout, l)
	}
	if *asJSON {
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		fmt.Fprintln(stdout, string(b))
	}
	if res.Load.OK == 0 {
		return fmt.Errorf("no checkout page GET was answered 200 under load (%d errors, non-200 %v, first error %q)", res.Load.Errors, res.Load.Non200, res.Load.FirstError)
	}
	return nil
}

func (c *pageRun) check() error {
	switch {
	case c.Hashcart == "":
		return fmt.Errorf("%w: --hashcart is required", errUsage)
	case c.Driver != "sqlite" && c.Driver != "postgres":
		return fmt.Errorf("%w: --driver must be sqlite or postgres", errUsage)
	case c.Driver == "postgres" && c.DSN == "":
		return fmt.Errorf("%w: --dsn is required for postgres", errUsage)
	case c.Concurrency < 1 || c.Concurrency > 4096:
		return fmt.Errorf("%w: --concurrency must be 1..4096", errUsage)
	case c.Duration <= 0 || c.Duration > 10*time.Minute:
		return fmt.Errorf("%w: --duration must be more than 0 and at most 10m", errUsage)
	case c.LowDuration <= 0 || c.LowDuration > 10*time.Minute:
		return fmt.Errorf("%w: --low-duration must be more than 0 and at most 10m", errUsage)
	case c.LowRate < 0 || c.LowRate > 10000:
		return fmt.Errorf("%w: --low-rate must be 0..10000", errUsage)
	case c.Warmup < 0 || c.Warmup > time.Minute:
		return fmt.Errorf("%w: --warmup must be 0..1m", errUsage)
	case c.Timeout <= 0 || c.Timeout > time.Minute:
		return fmt.Errorf("%w: --timeout must be more than 0 and at most 1m", errUsage)
	case c.Target <= 0:
		return fmt.Errorf("%w: --target must be more than 0", errUsage)
	}
	// The link must outlive both phases: checkout.hold is 15m by default.
	if total := 2*c.Warmup + c.Duration + c.LowDuration + 2*c.Timeout; total > 12*time.Minute {
		return fmt.Errorf("%w: the phases take up to %s, longer than the 15m hold allows", errUsage, total)
	}
	if c.RunID == "" {
		n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
		if err != nil {
			return fmt.Errorf("run id: %w", err)
		}
		c.RunID = fmt.Sprintf("%06d", n.Int64())
	}
	if len(c.RunID) != 6 || !allDigits(c.RunID) {
		return fmt.Errorf("%w: --run-id must be 6 digits", errUsage)
	}
	if c.Label == "" {
		c.Label = c.Driver
	}
	return nil
}

// run starts the simulator and hashcart, gets one checkout link the way a
// shopper does, checks its page, and measures it under load and at a low
// rate. Everything it starts is stopped before it returns.
func (c *pageRun) run(ctx context.Context, log *slog.Logger) (PageResult, error) {
	if c.WorkDir == "" {
		dir, err := os.MkdirTemp("", "hashcart-page-")
		if err != nil {
			return PageResult{}, fmt.Errorf("work directory: %w", err)
		}
		c.WorkDir = dir
		if !c.Keep {
			defer os.RemoveAll(dir)
		}
	}
	if err := os.MkdirAll(c.WorkDir, 0o700); err != nil {
		return PageResult{}, fmt.Errorf("work directory: %w", err)
	}
	if c.DSN == "" {
		c.DSN = filepath.Join(c.WorkDir, "page-"+c.RunID+".db")
	}

	sim := xsim.New(xsim.Options{ConsumerKey: pipelineKey, ConsumerSecret: pipelineSecret})
	config := func(s pipelineSettings) string { return withPageSlots(pageConfig(s), c.PageSlots) }
	st, err := startStack(ctx, c.Hashcart, c.WorkDir, "page", c.RunID, c.Driver, c.DSN, sim, config)
	if err != nil {
		return PageResult{}, err
	}
	defer st.stop()
	base, srv := st.base, st.srv
	if c.PIDFile != "" {
		if err := os.WriteFile(c.PIDFile, []byte(strconv.Itoa(srv.cmd.Process.Pid)+"\n"), 0o600); err != nil {
			return PageResult{}, fmt.Errorf("write pid file: %w", err)
		}
	}
	log.Info("hashcart is up", "base", base, "driver", c.Driver, "workdir", c.WorkDir)

	// One shopper replies #BuyNow to the offer's post and gets a DM.
	e, err := buildPipelineEvent(pipelineSecret, pipelineMerchant, pipelineScreenName, c.RunID, 0, time.Now())
	if err != nil {
		return PageResult{}, err
	}
	client := newClient(loadConfig{Concurrency: 1, Timeout: c.Timeout})
	defer client.CloseIdleConnections()
	status, err := postEvent(ctx, client, base+"/webhooks/x", e)
	if err != nil {
		return PageResult{}, fmt.Errorf("deliver the reply: %w", err)
	}
	if status != http.StatusOK {
		return PageResult{}, fmt.Errorf("deliver the reply: status %d", status)
	}
	link, err := waitCheckoutLink(ctx, sim, e.UserID, base, 30*time.Second)
	if err != nil {
		return PageResult{}, err
	}
	secret := link[strings.LastIndexByte(link, '/')+1:]
	size, err := checkPage(ctx, client, link, secret)
	if err != nil {
		return PageResult{}, fmt.Errorf("before the load: %w", err)
	}

	res := PageResult{Label: c.Label, Driver: c.Driver, PageBytes: size, TargetMs: ms(c.Target)}
	res.LoadAvgBefore = loadAverage()
	// What the server costs with no requests: its pollers and jobs.
	cpu0, idle0 := srv.cpu(), time.Now()
	select {
	case <-ctx.Done():
		return PageResult{}, fmt.Errorf("page run stopped: %w", ctx.Err())
	case <-time.After(2 * time.Second):
	}
	res.ServerIdleCPUPct = round(100*float64(srv.cpu()-cpu0)/float64(time.Since(idle0)), 1)
	phase := func(l pageLoad) PagePhase {
		pc := newClient(loadConfig{Concurrency: l.Concurrency, Timeout: l.Timeout})
		defer pc.CloseIdleConnections()
		cpu0 := srv.cpu()
		recs, notSent, firstErr := hammer(ctx, pc, l)
		cpu := srv.cpu() - cpu0
		p := summarizePage(l, recs)
		p.NotSent, p.FirstError = notSent, firstErr
		p.ServerCPUS = round(cpu.Seconds(), 2)
		if p.Answered > 0 {
			p.ServerCPUPerReqMs = round(float64(cpu)/float64(time.Millisecond)/float64(p.Answered), 3)
		}
		return p
	}
	res.Load = phase(pageLoad{URL: link, Concurrency: c.Concurrency, Warmup: c.Warmup, Duration: c.Duration, Timeout: c.Timeout})
	res.LoadAvgAfterLoad = loadAverage()
	if err := context.Cause(ctx); err != nil {
		return PageResult{}, fmt.Errorf("page run stopped: %w", err)
	}
	if c.LowRate > 0 {
		// Let the server's queues drain before measuring it idle.
		select {
		case <-ctx.Done():
			return PageResult{}, fmt.Errorf("page run stopped: %w", ctx.Err())
		case <-time.After(time.Second):
		}
		low := phase(pageLoad{URL: link, Concurrency: 1, Rate: c.LowRate, Warmup: c.Warmup, Duration: c.LowDuration, Timeout: c.Timeout})
		res.Low = &low
	}
	if _, err := checkPage(ctx, client, link, secret); err != nil {
		return PageResult{}, fmt.Errorf("after the load: %w", err)
	}
	res.ClientCPUS = round(processCPU().Seconds(), 2)
	res.LoadAvgAfter = loadAverage()
	return res, nil
}

// pageConfig is the pipeline's config with the intake and outbox settings
// left at hashcart's defaults (polls every 250 and 200 ms), as a shop
// runs: a page benchmark needs one DM, not a fast pipeline.
func pageConfig(s pipelineSettings) string {
	cfg := pipelineConfig(s)
	var keep []string
	for _, line := range strings.Split(cfg, "\n") {
		if strings.HasPrefix(line, "intake:") || strings.HasPrefix(line, "outbox:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// withPageSlots adds server.page_concurrency to a config when n > 0.
func withPageSlots(cfg string, n int) string {
	if n <= 0 {
		return cfg
	}
	return strings.Replace(cfg, "server:\n", fmt.Sprintf("server:\n  page_concurrency: %d\n", n), 1)
}

// checkoutLinkRE matches the checkout link in a DM's text.
var checkoutLinkRE = regexp.MustCompile(`https?://[^\s/]+/checkout/[A-Za-z0-9_-]+`)

// checkoutLink returns the checkout link in text if it is on base (the
// server's public URL), so the load never goes anywhere else.
func checkoutLink(text, base string) (string, error) {
	link := checkoutLinkRE.FindString(text)
	if link == "" {
		return "", errors.New("the DM has no checkout link")
	}
	if !strings.HasPrefix(link, strings.TrimRight(base, "/")+"/checkout/") {
		return "", fmt.Errorf("the DM's link is not on %s", base)
	}
	return link, nil
}

// waitCheckoutLink waits up to limit for the simulator to receive a DM to
// userID and returns the checkout link in it.
func waitCheckoutLink(ctx context.Context, sim *xsim.Server, userID, base string, limit time.Duration) (string, error) {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for n := 1; ; n++ {
		dms, err := sim.WaitDMs(wctx, n)
		if err != nil {
			return "", fmt.Errorf("wait for the shopper's DM: %w", err)
		}
		for _, d := range dms {
			if d.RecipientID == userID {
				return checkoutLink(d.Text, base)
			}
		}
	}
}

// checkPage GETs the link once and checks that it is the order form for
// this link: 200, a form posting back to the link, with a CSRF field. It
// returns the page's size in bytes.
func checkPage(ctx context.Context, client *http.Client, link, secret string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get the checkout page: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("read the checkout page: %w", err)
	}
	if err := isCheckoutForm(resp.StatusCode, string(body), secret); err != nil {
		return 0, err
	}
	return len(body), nil
}

// isCheckoutForm says why a page is not the order form for secret's link,
// or nil if it is.
func isCheckoutForm(status int, body, secret string) error {
	if status != http.StatusOK {
		return fmt.Errorf("checkout page: status %d, want 200: %s", status, tail([]byte(body), 300))
	}
	for _, want := range []string{`<form method="post" action="/checkout/` + secret + `"`, `name="csrf"`} {
		if !strings.Contains(body, want) {
			return fmt.Errorf("checkout page has no %s: not the order form", want)
		}
	}
	return nil
}

// loadAverage is the first three fields of /proc/loadavg ("" where that
// cannot be read).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
