package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoRun is a running `hashcart demo` and the one URL it printed.
type demoRun struct {
	url  string
	out  *syncBuffer // stdout
	logs *syncBuffer // stderr
	cmd  *exec.Cmd
	done chan error
}

var demoURLLine = regexp.MustCompile(`https?://\S+`)

// startDemo runs `hashcart demo` in an empty folder (so nothing but the
// binary's built-in configuration is there), with no environment
// variables of hashcart's, and waits for the URL it prints.
func startDemo(t *testing.T, args ...string) *demoRun {
	t.Helper()
	d := &demoRun{out: &syncBuffer{}, logs: &syncBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(binary, append([]string{"demo"}, args...)...)
	d.cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HASHCART_") && !strings.HasPrefix(kv, "ACME_") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stderr = d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			d.out.Write([]byte(sc.Text() + "\n"))
			if u := demoURLLine.FindString(sc.Text()); u != "" && !sent {
				urls <- u
				sent = true
			}
		}
		d.done <- d.cmd.Wait()
	}()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-d.done:
			case <-time.After(20 * time.Second):
				_ = d.cmd.Process.Kill()
				<-d.done
			}
		}
		if t.Failed() {
			t.Logf("hashcart demo stdout:\n%s\nstderr:\n%s", d.out.String(), d.logs.String())
		}
	})
	select {
	case d.url = <-urls:
	case err := <-d.done:
		t.Fatalf("hashcart demo exited before printing a URL: %v\n%s", err, d.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("hashcart demo printed no URL:\n%s", d.logs.String())
	}
	return d
}

// shopperClient is a cookie-keeping HTTP client on the demo page.
type shopperClient struct {
	t    *testing.T
	d    *demoRun
	c    *http.Client
	v    string
	last map[string]string
}

func newShopperClient(t *testing.T, d *demoRun) *shopperClient {
	jar, _ := cookiejar.New(nil)
	return &shopperClient{t: t, d: d, c: &http.Client{Jar: jar, Timeout: 40 * time.Second}, v: "0"}
}

func (s *shopperClient) get(u string) (int, string) {
	s.t.Helper()
	resp, err := s.c.Get(u)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends a form of the page and fails unless it came back without a
// problem.
func (s *shopperClient) post(path string, form url.Values) {
	s.t.Helper()
	resp, err := s.c.PostForm(strings.TrimSuffix(s.d.url, "/demo")+path, form)
	if err != nil {
		s.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(resp.Request.URL.RawQuery, "problem=") {
		s.t.Fatalf("POST %s: %d at %s\n%s", path, resp.StatusCode, resp.Request.URL, b)
	}
}

// waitLive follows the page's long poll until ok accepts its parts, and
// returns them (or the last ones after 30 seconds).
func (s *shopperClient) waitLive(ok func(parts map[string]string) bool) map[string]string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, raw := s.get(s.d.url + "/live?v=" + s.v)
		var state struct {
			V     json.Number       `json:"v"`
			Parts map[string]string `json:"parts"`
		}
		if err := json.Unmarshal([]byte(raw), &state); err != nil {
			s.t.Fatalf("live: %v: %s", err, raw)
		}
		s.v, s.last = state.V.String(), state.Parts
		if ok(s.last) {
			break
		}
	}
	return s.last
}

// stop sends Ctrl-C and fails unless the demo exits cleanly.
func (d *demoRun) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("demo exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop on Ctrl-C")
	}
}

// A new user's demo: no configuration, no environment, one URL printed;
// a reply typed on the page reaches the real bot, whose public answer and
// checkout DM come back to the page. Stopping it with Ctrl-C is clean.
func TestDemoStartsWithNothingAndAnswersAReply(t *testing.T) {
	d := startDemo(t, "--listen", "127.0.0.1:0")
	if n := len(demoURLLine.FindAllString(d.out.String(), -1)); n != 1 {
		t.Fatalf("demo printed %d URLs, want 1:\n%s", n, d.out.String())
	}
	s := newShopperClient(t, d)
	if code, body := s.get(d.url); code != 200 || !strings.Contains(body, `name="handle"`) {
		t.Fatalf("first visit: %d, no handle picker:\n%s", code, body)
	}
	s.post("/demo/handle", url.Values{"handle": {"grace"}})
	code, body := s.get(d.url)
	for _, want := range []string{"@grace", "Acme tote bag", "$18.00", "50 left", `value="#BuyNow"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("the feed (%d) lacks %q:\n%s", code, want, body)
		}
	}
	s.post("/demo/reply", url.Values{"post_id": {totePost}, "quick": {"#BuyNow"}})
	parts := s.waitLive(func(p map[string]string) bool {
		return strings.Contains(p["thread-"+totePost], "Check your DMs") && strings.Contains(p["inbox"], "/checkout/")
	})
	if !strings.Contains(parts["thread-"+totePost], "@grace Got it! Check your DMs") {
		t.Fatalf("no public reply under the post: %q", parts["thread-"+totePost])
	}
	if !strings.Contains(parts["inbox"], "1 × Acme tote bag: $18.00") || !strings.Contains(parts["offers-"+totePost], "49 left") {
		t.Fatalf("inbox %q, offer %q", parts["inbox"], parts["offers-"+totePost])
	}
	d.stop(t)
	if m, _ := filepath.Glob(filepath.Join(os.TempDir(), "hashcart-demo-*", "hashcart.db")); len(m) > 0 {
		// Other runs may be going on; only say what is there.
		t.Logf("demo folders present after exit (other runs?): %v", m)
	}
}

// With --data the database outlives the run: a second demo on the same
// folder starts (same data key, migrations done) and still holds the first
// run's stock, and a new reply is taken, not mistaken for an old event.
func TestDemoDataFolderKeepsTheShopAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	d := startDemo(t, "--data", dir, "--listen", "127.0.0.1:0")
	s := newShopperClient(t, d)
	s.post("/demo/handle", url.Values{"handle": {"grace"}})
	s.post("/demo/reply", url.Values{"post_id": {totePost}, "quick": {"#BuyNow"}})
	if p := s.waitLive(func(p map[string]string) bool { return strings.Contains(p["offers-"+totePost], "49 left") }); !strings.Contains(p["offers-"+totePost], "49 left") {
		t.Fatalf("first run: %q", p["offers-"+totePost])
	}
	d.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "hashcart.db.key")); err != nil {
		t.Fatalf("no data key kept beside the database: %v", err)
	}

	d2 := startDemo(t, "--data", dir, "--listen", "127.0.0.1:0")
	s2 := newShopperClient(t, d2)
	s2.post("/demo/handle", url.Values{"handle": {"linus"}})
	if _, body := s2.get(d2.url); !strings.Contains(body, "49 left") {
		t.Fatalf("second run forgot the first run's hold: the feed shows\n%s", body)
	}
	s2.post("/demo/reply", url.Values{"post_id": {totePost}, "quick": {"#BuyNow"}})
	p := s2.waitLive(func(p map[string]string) bool { return strings.Contains(p["inbox"], "/checkout/") })
	if !strings.Contains(p["inbox"], "1 × Acme tote bag") || !strings.Contains(p["offers-"+totePost], "48 left") {
		t.Fatalf("second run's reply: inbox %q, offer %q", p["inbox"], p["offers-"+totePost])
	}
	d2.stop(t)
}
