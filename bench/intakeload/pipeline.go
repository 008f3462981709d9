package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashcart/hashcart/xsim"
)

// pipelineRun says what a pipeline run starts, sends and for how long.
type pipelineRun struct {
	Hashcart    string
	Driver, DSN string
	WorkDir     string
	Keep        bool
	RunID       string
	Label       string
	Rate        float64
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
	Grace       time.Duration
	Timeout     time.Duration
	Target      time.Duration
}

const (
	pipelineKey        = "bench-consumer-key"
	pipelineSecret     = "bench-consumer-secret"
	pipelineMerchant   = "2244994945"
	pipelineScreenName = "acme"
)

func runPipeline(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("pipeline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c pipelineRun
	fs.StringVar(&c.Hashcart, "hashcart", "", "path of the hashcart binary to start (required)")
	fs.StringVar(&c.Driver, "driver", "sqlite", "storage driver: sqlite or postgres")
	fs.StringVar(&c.DSN, "dsn", "", "storage DSN (default: a fresh SQLite file in the work directory; for postgres, a DSN whose search_path is an empty schema)")
	fs.StringVar(&c.WorkDir, "workdir", "", "directory for the config, server log and SQLite file (default: a new temporary directory, removed afterwards)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the temporary work directory")
	fs.StringVar(&c.RunID, "run-id", "", "6 digits put in every tweet and user id (default random)")
	fs.StringVar(&c.Label, "label", "", "name of this run in the result (default the driver)")
	fs.Float64Var(&c.Rate, "rate", 1000, "events per second, open loop")
	fs.IntVar(&c.Concurrency, "concurrency", 256, "webhook requests in flight at most")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "events sent first and not measured")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measurement window")
	fs.DurationVar(&c.Grace, "grace", 10*time.Second, "how long after the window to wait for DMs")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.DurationVar(&c.Target, "target", 100*time.Millisecond, "p99 the run is judged against")
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
	fmt.Fprintln(stdout, res.Line())
	if res.Stages != nil {
		s := res.Stages
		fmt.Fprintf(stdout, "  stages (server timestamps, measured events): due->inbox row %d events p50=%.1fms p99=%.1fms; inbox row->DM queued %d p50=%.1fms p99=%.1fms; DM queued->sent %d p50=%.1fms p99=%.1fms\n",
			s.InboxRows, s.IntakeP50Ms, s.IntakeP99Ms, s.QueuedRows, s.ToOutboxP50Ms, s.ToOutboxP99Ms, s.SentRows, s.OutboxP50Ms, s.OutboxP99Ms)
	}
	fmt.Fprintf(stdout, "  rows when the last event was due: %s\n  rows when the last DM came (or at the grace deadline): %s\n", countsString(res.BacklogAtEnd), countsString(res.BacklogAtGrace))
	met, why := pipelineVerdict(res, c.Target)
	fmt.Fprintf(stdout, "TARGET %s pipeline p99 < %s at %.0f events/s: %s -> %s\n", res.Label, c.Target, c.Rate, why, verdict(met))
	if *asJSON {
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		fmt.Fprintln(stdout, string(b))
	}
	return nil
}

func (c *pipelineRun) check() error {
	switch {
	case c.Hashcart == "":
		return fmt.Errorf("%w: --hashcart is required", errUsage)
	case c.Driver != "sqlite" && c.Driver != "postgres":
		return fmt.Errorf("%w: --driver must be sqlite or postgres", errUsage)
	case c.Driver == "postgres" && c.DSN == "":
		return fmt.Errorf("%w: --dsn is required for postgres", errUsage)
	case c.Rate <= 0 || c.Rate > 20000:
		return fmt.Errorf("%w: --rate must be more than 0 and at most 20000", errUsage)
	case c.Concurrency < 1 || c.Concurrency > 4096:
		return fmt.Errorf("%w: --concurrency must be 1..4096", errUsage)
	case c.Duration <= 0 || c.Duration > 10*time.Minute:
		return fmt.Errorf("%w: --duration must be more than 0 and at most 10m", errUsage)
	case c.Warmup < 0 || c.Warmup > time.Minute:
		return fmt.Errorf("%w: --warmup must be 0..1m", errUsage)
	case c.Grace <= 0 || c.Grace > 5*time.Minute:
		return fmt.Errorf("%w: --grace must be more than 0 and at most 5m", errUsage)
	case c.Timeout <= 0 || c.Timeout > time.Minute:
		return fmt.Errorf("%w: --timeout must be more than 0 and at most 1m", errUsage)
	}
	if n := c.Rate * (c.Warmup + c.Duration).Seconds(); n > 1e6 {
		return fmt.Errorf("%w: %.0f events is too many (at most 1,000,000)", errUsage, n)
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

// run starts the simulator and hashcart, sends the events, waits for the
// DMs and summarizes. Everything it starts is stopped before it returns.
func (c *pipelineRun) run(ctx context.Context, log *slog.Logger) (PipelineResult, error) {
	origin := time.Now()
	since := func() time.Duration { return time.Since(origin) }

	if c.WorkDir == "" {
		dir, err := os.MkdirTemp("", "hashcart-pipeline-")
		if err != nil {
			return PipelineResult{}, fmt.Errorf("work directory: %w", err)
		}
		c.WorkDir = dir
		if !c.Keep {
			defer os.RemoveAll(dir)
		}
	}
	if err := os.MkdirAll(c.WorkDir, 0o700); err != nil {
		return PipelineResult{}, fmt.Errorf("work directory: %w", err)
	}
	if c.DSN == "" {
		c.DSN = filepath.Join(c.WorkDir, "pipeline-"+c.RunID+".db")
	}

	// The X simulator, behind a clock that notes each DM request's arrival.
	sim := xsim.New(xsim.Options{ConsumerKey: pipelineKey, ConsumerSecret: pipelineSecret})
	clock := newDMClock(sim, since)
	st, err := startStack(ctx, c.Hashcart, c.WorkDir, "pipeline", c.RunID, c.Driver, c.DSN, clock, pipelineConfig)
	if err != nil {
		return PipelineResult{}, err
	}
	defer st.stop()
	base, srv := st.base, st.srv
	log.Info("hashcart is up", "base", base, "driver", c.Driver, "workdir", c.WorkDir)

	db, err := openServerDB(c.Driver, c.DSN)
	if err != nil {
		return PipelineResult{}, err
	}
	defer db.Close()

	// Build every event first, so encoding and signing are not measured.
	total := int(math.Ceil(c.Rate * (c.Warmup + c.Duration).Seconds()))
	events := make([]pipelineEvent, total)
	for i := range events {
		if events[i], err = buildPipelineEvent(pipelineSecret, pipelineMerchant, pipelineScreenName, c.RunID, i, time.Now()); err != nil {
			return PipelineResult{}, err
		}
	}

	sent := make([]sentEvent, total)
	for i := range sent {
		sent[i] = sentEvent{user: events[i].UserID, status: -1}
	}
	client := newClient(loadConfig{Concurrency: c.Concurrency, Timeout: c.Timeout})
	url := base + "/webhooks/x"
	var firstErr error
	var errOnce sync.Once
	jobs := make(chan int, 4096)
	var wg sync.WaitGroup
	for range c.Concurrency {
		wg.Go(func() {
			for i := range jobs {
				if ctx.Err() != nil {
					continue
				}
				e := &sent[i]
				e.sent = since()
				status, err := postEvent(ctx, client, url, events[i])
				e.acked, e.status = since(), status
				if err != nil {
					errOnce.Do(func() { firstErr = err })
				}
			}
		})
	}
	sendStart := since() + 50*time.Millisecond
	windowStart := sendStart + c.Warmup
	windowEnd := windowStart + c.Duration
	timer := time.NewTimer(0)
	<-timer.C
schedule:
	for i := range total {
		due := sendStart + time.Duration(float64(i)*float64(time.Second)/c.Rate)
		sent[i].due = due
		if wait := due - since(); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				break schedule
			case <-timer.C:
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			break schedule
		}
	}
	close(jobs)
	var res PipelineResult
	if res.BacklogAtEnd, err = db.backlog(ctx); err != nil {
		log.Warn("could not count rows at the end of the window", "err", err)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return PipelineResult{}, fmt.Errorf("pipeline run stopped: %w", err)
	}

	// Wait for the DMs of the measured events, up to the grace deadline.
	var users []string
	for _, e := range sent {
		if e.due >= windowStart && e.due < windowEnd {
			users = append(users, e.user)
		}
	}
	deadline := windowEnd + c.Grace
	clock.waitFor(users, deadline)
	arrivals, requests := clock.snapshot()
	if res.BacklogAtGrace, err = db.backlog(ctx); err != nil {
		log.Warn("could not count rows after the grace period", "err", err)
	}
	serverCPU := srv.cpu()
	srv.stop()

	joined := joinPipeline(sent, arrivals, windowStart, windowEnd, deadline)
	joined.BacklogAtEnd, joined.BacklogAtGrace = res.BacklogAtEnd, res.BacklogAtGrace
	res = joined
	res.Label, res.Driver, res.TargetRate, res.Concurrency = c.Label, c.Driver, c.Rate, c.Concurrency
	res.WarmupS, res.WindowS, res.GraceS = c.Warmup.Seconds(), c.Duration.Seconds(), c.Grace.Seconds()
	res.DMRequests, res.DMRecipients = requests, len(arrivals)
	res.ClientCPUS = round(processCPU().Seconds(), 2)
	res.ServerCPUS = round(serverCPU.Seconds(), 2)
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	tweetIDs := make([]string, total)
	for i := range events {
		tweetIDs[i] = events[i].TweetID
	}
	rows, err := db.stages(context.WithoutCancel(ctx))
	if err != nil {
		log.Warn("could not read the stage timestamps", "err", err)
	} else {
		res.Stages = stageSplit(sent, tweetIDs, rows, origin, windowStart, windowEnd)
	}
	return res, nil
}

// postEvent sends one signed delivery and returns the answer's status (0
// with the error for a transport failure).
func postEvent(ctx context.Context, client *http.Client, url string, e pipelineEvent) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(e.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(xsim.SignatureHeader, e.Signature)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// freeLoopbackPort asks the kernel for a free port on 127.0.0.1.
func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// server is the hashcart process this tool started.
type server struct {
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// startServer starts "bin serve --config cfg" with its output in logPath
// and waits up to 30 s for base/healthz to answer 200.
func startServer(ctx context.Context, bin, cfg, logPath, base string) (*server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("hashcart exited before it was healthy: %s", tail(out, 2000))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.stop()
	out, _ := os.ReadFile(logPath)
	return nil, fmt.Errorf("hashcart not healthy after 30s: %s", tail(out, 2000))
}

// stop sends SIGTERM, and SIGKILL if the process has not exited 10 s
// later; it waits for the exit. It is safe to call more than once.
func (s *server) stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// cpu is the user + system CPU time the process has used so far, from
// /proc (0 where that cannot be read).
func (s *server) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	// utime and stime are fields 14 and 15 of the whole line, in clock ticks
	// (100 per second on Linux).
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0
	}
	return time.Duration(ut+st) * (time.Second / 100)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

func countsString(m map[string]int) string {
	if len(m) == 0 {
		return "(not read)"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// stack is the X simulator (behind handler) and a hashcart configured
// against it, for one benchmark run.
type stack struct {
	base string
	srv  *server
	stop func()
}

// startStack serves handler (the simulator, possibly wrapped) on a
// loopback port, writes a config made by configFor into workDir as
// <name>-<runID>.yaml and starts hashcart with it (log beside it). stop
// ends both.
func startStack(ctx context.Context, hashcart, workDir, name, runID, driver, dsn string, handler http.Handler,
	configFor func(pipelineSettings) string) (*stack, error) {
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the simulator: %w", err)
	}
	simSrv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	stopSim := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = simSrv.Shutdown(sctx)
	}
	port, err := freeLoopbackPort()
	if err != nil {
		stopSim()
		return nil, err
	}
	cfgPath := filepath.Join(workDir, name+"-"+runID+".yaml")
	cfg := configFor(pipelineSettings{
		Port: port, Driver: driver, DSN: dsn, APIBaseURL: "http://" + simLn.Addr().String(),
		ConsumerKey: pipelineKey, ConsumerSecret: pipelineSecret, MerchantID: pipelineMerchant, ScreenName: pipelineScreenName,
	})
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		stopSim()
		return nil, fmt.Errorf("write config: %w", err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	srv, err := startServer(ctx, hashcart, cfgPath, filepath.Join(workDir, name+"-"+runID+".log"), base)
	if err != nil {
		stopSim()
		return nil, err
	}
	return &stack{base: base, srv: srv, stop: func() { srv.stop(); stopSim() }}, nil
}
