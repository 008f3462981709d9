// Package stripemock starts stripe-mock (github.com/stripe/stripe-mock)
// for tests, so the Stripe provider is exercised against Stripe's own
// OpenAPI validation without reaching a Stripe host.
package stripemock

import (
	"bufio"
	"go/build"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Version is the stripe-mock release .ci/run installs.
const Version = "v0.203.0"

// startTimeout bounds how long stripe-mock may take to say where it
// listens.
const startTimeout = 30 * time.Second

// Start runs stripe-mock on 127.0.0.1 (system-chosen ports, HTTP and
// HTTPS) for the rest of the test and returns its HTTP base URL
// ("http://127.0.0.1:<port>"). The binary is looked up on PATH, then in
// $GOPATH/bin. When it is missing the test is skipped, saying how to
// install it, unless CI=true, where it fails.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		candidate := filepath.Join(build.Default.GOPATH, "bin", "stripe-mock")
		if _, statErr := os.Stat(candidate); statErr != nil {
			msg := "stripe-mock not found on PATH or in $GOPATH/bin; install it with: go install github.com/stripe/stripe-mock@" + Version
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		bin = candidate
	}
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = pw.Close()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "Listening for HTTP at address: "); ok && !sent {
				addr <- strings.TrimSpace(a)
				sent = true
			}
		}
		// Keep draining so stripe-mock never blocks on its output.
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(startTimeout):
		t.Fatalf("stripe-mock did not report its HTTP address within %s", startTimeout)
		return ""
	}
}
