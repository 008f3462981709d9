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

// A new user's demo: no configuration, no environment, one URL printed;
// a reply typed on the page reaches the real bot, whose public answer and
// checkout DM come back to the page. Stopping it with Ctrl-C is clean.
func TestDemoStartsWithNothingAndAnswersAReply(t *testing.T) {
	d := startDemo(t, "--data", t.TempDir(), "--listen", "127.0.0.1:0")
	if n := len(demoURLLine.FindAllString(d.out.String(), -1)); n != 1 {
		t.Fatalf("demo printed %d URLs, want 1:\n%s", n, d.out.String())
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 40 * time.Second}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values) {
		t.Helper()
		resp, err := c.PostForm(strings.TrimSuffix(d.url, "/demo")+path, form)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(resp.Request.URL.RawQuery, "problem=") {
			t.Fatalf("POST %s: %d at %s\n%s", path, resp.StatusCode, resp.Request.URL, b)
		}
	}
	if code, body := get(d.url); code != 200 || !strings.Contains(body, `name="handle"`) {
		t.Fatalf("first visit: %d, no handle picker:\n%s", code, body)
	}
	post("/demo/handle", url.Values{"handle": {"grace"}})
	code, body := get(d.url)
	for _, want := range []string{"@grace", "Acme tote bag", "$18.00", "50 left", `value="#BuyNow"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("the feed (%d) lacks %q:\n%s", code, want, body)
		}
	}
	post("/demo/reply", url.Values{"post_id": {"1860000000000000002"}, "quick": {"#BuyNow"}})

	// The live endpoint answers when something changed, until the bot's
	// reply and DM are both there.
	deadline := time.Now().Add(30 * time.Second)
	var parts map[string]string
	for v := "0"; time.Now().Before(deadline); {
		_, raw := get(d.url + "/live?v=" + v)
		var state struct {
			V     json.Number       `json:"v"`
			Parts map[string]string `json:"parts"`
		}
		if err := json.Unmarshal([]byte(raw), &state); err != nil {
			t.Fatalf("live: %v: %s", err, raw)
		}
		v, parts = state.V.String(), state.Parts
		if strings.Contains(parts["thread-1860000000000000002"], "Check your DMs") && strings.Contains(parts["inbox"], "/checkout/") {
			break
		}
	}
	if !strings.Contains(parts["thread-1860000000000000002"], "@grace Got it! Check your DMs") {
		t.Fatalf("no public reply under the post: %q", parts["thread-1860000000000000002"])
	}
	if !strings.Contains(parts["inbox"], "1 × Acme tote bag: $18.00") || !strings.Contains(parts["offers-1860000000000000002"], "49 left") {
		t.Fatalf("inbox %q, offer %q", parts["inbox"], parts["offers-1860000000000000002"])
	}

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
