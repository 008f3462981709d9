package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/vault"
)

// binary is the hashcart binary under test, built once by TestMain.
var binary string

// testDataKey is the data key every binary under test gets (PostgreSQL
// installs must be given one).
var testDataKey string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hashcart-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hashcart")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hashcart:", err)
		os.Exit(1)
	}
	if testDataKey, err = vault.Generate("e2e"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	testSecret   = "e2e-consumer-secret"
	testMerchant = "2244994945"
)

// instance is a running hashcart serve process.
type instance struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	config string
	logs   *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeConfig writes a minimal valid configuration for driver/dsn and
// returns its path and the base URL the server will listen on.
func writeConfig(t *testing.T, driver, dsn string, extra string) (string, string) {
	t.Helper()
	port := freePort(t)
	cfg := fmt.Sprintf(`server:
  listen: "127.0.0.1:%d"
  public_url: "http://127.0.0.1:%d"
  max_body: 64KiB
  shutdown_timeout: 5s
storage:
  driver: %s
  dsn: %q
x:
  consumer_key: e2e-consumer-key
  consumer_secret: %s
  api_base_url: "http://127.0.0.1:1"
intake:
  poll_interval: 50ms
log:
  level: info
%s
merchants:
  - id: acme
    name: Acme Records
    x_user_id: %q
    x_screen_name: acme
    access_token: acme-token
    access_secret: acme-secret
    currency: USD
    offers:
      - id: tote
        title: Tote bag
        price: "18.00"
        stock: 50
        post_ids: ["1860000000000000002"]
`, port, port, driver, dsn, testSecret, extra, testMerchant)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// start runs hashcart serve and waits until it answers /healthz.
func start(t *testing.T, config, base string) *instance {
	t.Helper()
	in := &instance{t: t, base: base, config: config, logs: &syncBuffer{}, done: make(chan error, 1)}
	in.cmd = exec.Command(binary, "serve", "--config", config)
	in.cmd.Env = append(os.Environ(), vault.EnvVar+"="+testDataKey)
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.done <- in.cmd.Wait() }()
	t.Cleanup(func() {
		if in.cmd.ProcessState == nil {
			_ = in.cmd.Process.Kill()
			<-in.done
		}
		if t.Failed() {
			t.Logf("hashcart logs:\n%s", in.logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return in
			}
		}
		select {
		case err := <-in.done:
			t.Fatalf("hashcart exited early: %v\n%s", err, in.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("hashcart did not become healthy:\n%s", in.logs.String())
	return nil
}

// stop sends sig and waits for the process to exit.
func (in *instance) stop(sig syscall.Signal) {
	in.t.Helper()
	_ = in.cmd.Process.Signal(sig)
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		in.t.Fatalf("hashcart did not exit after %v", sig)
	}
}

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write(body)
	return "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func tweetDelivery(id int) []byte {
	return []byte(fmt.Sprintf(`{"for_user_id":%q,"tweet_create_events":[{"id_str":"%d","text":"@acme #BuyNow","user":{"id_str":"9%d","screen_name":"shopper%d"},"in_reply_to_status_id_str":"1860000000000000002"}]}`,
		testMerchant, 1900000000000000000+id, id, id))
}

var client = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64},
}

func post(t testing.TB, url string, body []byte, signature string) int {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("x-twitter-webhooks-signature", signature)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("post: %v", err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// postHeadersFirst sends a delivery's headers, reads the answer, and only
// then the body, if the server still wants it. The server refuses an
// oversized body on its Content-Length before reading it and closes the
// connection; a client still writing the body then races that close (a
// broken pipe, or a reset that swallows the 413), so only this order makes
// the refusal observable every time.
func postHeadersFirst(t testing.TB, url string, body []byte, signature string) int {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nx-twitter-webhooks-signature: %s\r\n\r\n",
		u.RequestURI(), u.Host, len(body), signature)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Errorf("no answer to the headers of a %d-byte delivery: %v", len(body), err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// openDB opens the database the binary uses, for assertions.
func openDB(t *testing.T, driver, dsn string) *storage.DB {
	t.Helper()
	sealer, err := vault.Parse(testDataKey)
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(context.Background(), driver, dsn, storage.Options{Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *storage.DB, where string) int {
	t.Helper()
	n, err := db.Inbox().CountWhere(context.Background(), where)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitCount(t *testing.T, db *storage.DB, where string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := count(t, db, where)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rows where %s = %d, want %d (after %v)", where, got, want, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCRCAnswerIsByteExact(t *testing.T) {
	// Pinned with: printf 'challenge-123' | openssl dgst -sha256 -hmac 'demo-consumer-secret' -binary | base64
	const want = `{"response_token":"sha256=i27mDIZcXyfFEP9BSAs0VVr26JTD9mPnLNdgTuwlN8Q="}`
	port := freePort(t)
	dir := t.TempDir()
	t.Setenv("HASHCART_DB_DSN", filepath.Join(dir, "h.db"))
	example, _ := filepath.Abs("../../config.example.yaml")
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	// The shipped example, unchanged but for the port.
	cfg := strings.Replace(string(data), `listen: ":8080"`, fmt.Sprintf(`listen: "127.0.0.1:%d"`, port), 1)
	if cfg == string(data) {
		t.Fatal(`config.example.yaml no longer has listen: ":8080"`)
	}
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	start(t, path, base)

	resp, err := http.Get(base + "/webhooks/x?crc_token=challenge-123")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != want {
		t.Fatalf("CRC = %d %s, want 200 %s", resp.StatusCode, body, want)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("CRC content type = %q", ct)
	}
	resp, err = http.Get(base + "/webhooks/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("CRC without a token = %d, want 400", resp.StatusCode)
	}
}

func TestBadDeliveriesAreRefusedAndNothingStored(t *testing.T) {
	driver, dsn := storagetest.DSN(t, storage.DriverSQLite)
	config, base := writeConfig(t, driver, dsn, "")
	start(t, config, base)
	url := base + "/webhooks/x"
	good := tweetDelivery(1)
	forged := hmac.New(sha256.New, []byte("not-the-secret"))
	forged.Write(good)
	big := append([]byte(`{"for_user_id":"2244994945","tweet_create_events":[{"id_str":"2","text":"`), bytes.Repeat([]byte("a"), 70*1024)...)
	big = append(big, []byte(`"}]}`)...)
	notJSON := []byte("for_user_id=2244994945")

	cases := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"forged signature", good, "sha256=" + base64.StdEncoding.EncodeToString(forged.Sum(nil)), 401},
		{"unsigned", good, "", 401},
		{"signature of another body", good, sign(tweetDelivery(2)), 401},
		{"oversized", big, sign(big), 413},
		{"not JSON", notJSON, sign(notJSON), 400},
		{"JSON without for_user_id", []byte(`{"tweet_create_events":[]}`), sign([]byte(`{"tweet_create_events":[]}`)), 400},
	}
	for _, c := range cases {
		got := 0
		if c.want == 413 {
			got = postHeadersFirst(t, url, c.body, c.sig)
		} else {
			got = post(t, url, c.body, c.sig)
		}
		if got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	unknown := []byte(`{"for_user_id":"1111","tweet_create_events":[{"id_str":"5","text":"#BuyNow"}]}`)
	if got := post(t, url, unknown, sign(unknown)); got != 200 {
		t.Errorf("unknown account: status %d, want 200 (acknowledged and dropped)", got)
	}
	db := openDB(t, driver, dsn)
	if n := count(t, db, "1=1"); n != 0 {
		t.Fatalf("%d rows stored from refused or dropped deliveries, want 0", n)
	}
	if got := post(t, url, good, sign(good)); got != 200 {
		t.Fatalf("good delivery: %d", got)
	}
	waitCount(t, db, "status = 'done'", 1, 10*time.Second)
}

// 10,000 signed deliveries, each sent twice, concurrently: 10,000 rows, each
// processed once.
func TestDuplicateDeliveriesStoredAndProcessedOnce(t *testing.T) {
	for _, d := range []string{storage.DriverSQLite, storage.DriverPostgres} {
		t.Run(d, func(t *testing.T) {
			n := 10000
			if testing.Short() {
				n = 1000
			}
			driver, dsn := storagetest.DSN(t, d)
			config, base := writeConfig(t, driver, dsn, "")
			start(t, config, base)
			url := base + "/webhooks/x"
			jobs := make(chan int)
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			for w := 0; w < 64; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range jobs {
						body := tweetDelivery(i % n)
						code := post(t, url, body, sign(body))
						mu.Lock()
						statuses[code]++
						mu.Unlock()
					}
				}()
			}
			for i := 0; i < 2*n; i++ {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			if statuses[200] != 2*n {
				t.Fatalf("statuses %v, want %d × 200", statuses, 2*n)
			}
			db := openDB(t, driver, dsn)
			// Correctness, not speed, is under test here (speed is in bench/):
			// on a loaded 2-core machine processing 10,000 events can take minutes.
			waitCount(t, db, "status = 'done'", n, 5*time.Minute)
			if got := count(t, db, "1=1"); got != n {
				t.Fatalf("rows = %d, want %d", got, n)
			}
			if got := count(t, db, "attempts = 1"); got != n {
				t.Fatalf("rows processed in exactly one attempt = %d, want %d", got, n)
			}
		})
	}
}

// kill -9 right after 1,000 acknowledgements, then restart: all 1,000
// processed, each exactly once.
func TestKilledAfterAckLosesNothing(t *testing.T) {
	for _, d := range []string{storage.DriverSQLite, storage.DriverPostgres} {
		t.Run(d, func(t *testing.T) {
			const n = 1000
			driver, dsn := storagetest.DSN(t, d)
			// One slow-polling worker, so that processing is still under way
			// when the process dies.
			config, base := writeConfig(t, driver, dsn, "")
			first := start(t, config, base)
			url := base + "/webhooks/x"
			var wg sync.WaitGroup
			var acked sync.Map
			for w := 0; w < 32; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := w; i < n; i += 32 {
						body := tweetDelivery(i)
						if post(t, url, body, sign(body)) == 200 {
							acked.Store(i, true)
						}
					}
				}(w)
			}
			wg.Wait()
			first.stop(syscall.SIGKILL)
			ackedN := 0
			acked.Range(func(_, _ any) bool { ackedN++; return true })
			if ackedN != n {
				t.Fatalf("acknowledged %d of %d before the kill", ackedN, n)
			}
			db := openDB(t, driver, dsn)
			stored, doneAtKill := count(t, db, "1=1"), count(t, db, "status = 'done'")
			t.Logf("at kill -9: %d stored, %d processed", stored, doneAtKill)
			if stored != n {
				t.Fatalf("stored after kill = %d, want %d acknowledged events", stored, n)
			}
			start(t, config, base)
			waitCount(t, db, "status = 'done'", n, 60*time.Second)
			if got := count(t, db, "attempts = 1 AND status = 'done'"); got != n {
				t.Fatalf("processed exactly once = %d, want %d", got, n)
			}
		})
	}
}

func TestBrokenConfigDoesNotStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.yaml")
	os.WriteFile(path, []byte("server:\n  listen: \":8080\"\n  max_bodyy: 1MiB\nstorage: { driver: sqlite, dsn: x.db }\nx: { consumer_secret: s }\ncheckout:\n  hold: soon\n"), 0o600)
	for _, sub := range []string{"check", "serve"} {
		cmd := exec.Command(binary, sub, "--config", path)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		done := make(chan error, 1)
		cmd.Start()
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%s with a broken config kept running:\n%s", sub, out.String())
		}
		if cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("%s exit code = %d, want 1", sub, cmd.ProcessState.ExitCode())
		}
		text := out.String()
		for _, want := range []string{path + ":3:", "max_bodyy", "max_body", path + ":7:", "soon"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s output lacks %q:\n%s", sub, want, text)
			}
		}
	}
}

func TestCheckSummarisesAValidConfig(t *testing.T) {
	example, _ := filepath.Abs("../../config.example.yaml")
	cmd := exec.Command(binary, "check", "--config", example)
	cmd.Env = append(os.Environ(), "HASHCART_CONFIG=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("check example: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "ok") {
		t.Fatalf("check output = %q, want one summary line", out)
	}
}
