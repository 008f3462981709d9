package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/storage/storagetest"
	"github.com/hashcart/hashcart/xsim"
)

// cliConfig writes a copy of a running shop's configuration with
// x.environment set, for the webhook commands (serve does not need it).
func cliConfig(t *testing.T, shopConfig string) string {
	t.Helper()
	raw, err := os.ReadFile(shopConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), "\nx:\n", "\nx:\n  environment: prod\n", 1)
	path := filepath.Join(t.TempDir(), "cli.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cliResult is one run of the hashcart binary.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the binary with args and returns its exit code and output.
func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	res := cliResult{stdout: out.String(), stderr: errb.String()}
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run hashcart %v: %v", args, err)
	}
	t.Logf("hashcart %s -> %d\n%s%s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	return res
}

var webhookIDRE = regexp.MustCompile(`registered webhook (\d+) for `)

// The webhook commands, run against the simulator while hashcart serves:
// X's CRC challenge is answered by the running hashcart, the merchant's
// subscription is listed and routes its activity to hashcart, and a CRC
// re-check fails once hashcart is gone.
func TestWebhookCommandsSetUpAccountActivityForRunningHashcart(t *testing.T) {
	for _, v := range []string{"2", "1.1"} {
		t.Run("x_api_"+v, func(t *testing.T) { webhookSetUp(t, v) })
	}
}

func webhookSetUp(t *testing.T, apiVersion string) {
	s := startShopVersion(t, storage.DriverSQLite, "", apiVersion)
	cfg := cliConfig(t, s.config)
	hookURL := s.base + "/webhooks/x"

	r := runCLI(t, "webhook", "register", "--config", cfg)
	m := webhookIDRE.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("register: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	id := m[1]
	hooks := s.sim.Webhooks()
	if len(hooks) != 1 || hooks[0].ID != id || hooks[0].URL != hookURL || !hooks[0].Valid || hooks[0].CRCs != 1 || hooks[0].Version != apiVersion {
		t.Fatalf("X has %+v, want webhook %s for %s, valid after 1 answered CRC through API %s", hooks, id, hookURL, apiVersion)
	}

	if r := runCLI(t, "webhook", "register", "--config", cfg); r.code != 1 || !strings.Contains(r.stderr, "X already has webhook "+id) {
		t.Fatalf("second register: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if n := len(s.sim.Webhooks()); n != 1 {
		t.Fatalf("X has %d webhooks after registering twice", n)
	}

	if r := runCLI(t, "webhook", "subscribe", "--merchant", "acme", "--config", cfg); r.code != 0 {
		t.Fatalf("subscribe: exit %d: %s", r.code, r.stderr)
	}
	if got := s.sim.Webhooks()[0].Subscribers; !slices.Equal(got, []string{testMerchant}) {
		t.Fatalf("subscribers %v, want [%s]", got, testMerchant)
	}
	r = runCLI(t, "webhook", "list", "--config", cfg)
	for _, want := range []string{"webhook " + id, hookURL, "valid", "subscribed: " + testMerchant + " (acme)"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("list (exit %d) does not say %q:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}

	// X now routes the merchant's activity to the registered hashcart.
	n, err := s.sim.DeliverToSubscribers(context.Background(), testMerchant, replyTo("1001", 1, "@acme #BuyNow red"))
	if n != 1 || err != nil {
		t.Fatalf("delivered to %d webhooks: %v", n, err)
	}
	wait(t, "the checkout DM", func(ctx context.Context) ([]xsim.DM, error) { return s.sim.WaitDMs(ctx, 1) })

	if r := runCLI(t, "webhook", "crc", "--config", cfg); r.code != 0 || !strings.Contains(r.stdout, "valid") {
		t.Fatalf("crc: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if w := s.sim.Webhooks()[0]; w.CRCs != 2 || !w.Valid {
		t.Fatalf("after crc: %+v, want 2 answered challenges", w)
	}

	if r := runCLI(t, "webhook", "unsubscribe", "--merchant", "acme", "--config", cfg); r.code != 0 {
		t.Fatalf("unsubscribe: exit %d: %s", r.code, r.stderr)
	}
	if got := s.sim.Webhooks()[0].Subscribers; len(got) != 0 {
		t.Fatalf("subscribers after unsubscribe: %v", got)
	}
	if r := runCLI(t, "webhook", "list", "--config", cfg); !strings.Contains(r.stdout, "no subscribed accounts") {
		t.Fatalf("list after unsubscribe:\n%s", r.stdout)
	}

	// Without hashcart behind the URL the re-check fails, and says why.
	s.stop(syscall.SIGTERM)
	r = runCLI(t, "webhook", "crc", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "status 400") || !strings.Contains(r.stderr, "Unable to connect during CRC GET request") ||
		!strings.Contains(r.stderr, "x.consumer_secret") {
		t.Fatalf("crc without hashcart: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if s.sim.Webhooks()[0].Valid {
		t.Fatal("X still has the webhook as valid after a failed CRC")
	}
	if r := runCLI(t, "webhook", "delete", "--config", cfg); r.code != 0 || len(s.sim.Webhooks()) != 0 {
		t.Fatalf("delete: exit %d, X still has %+v: %s", r.code, s.sim.Webhooks(), r.stderr)
	}
}

// register fails with exit 1 and X's reason when the URL does not answer the
// CRC challenge correctly, and X keeps nothing.
func TestWebhookRegisterFailsClearlyWhenTheURLDoesNotAnswerTheCRC(t *testing.T) {
	for _, v := range []string{"2", "1.1"} {
		t.Run("x_api_"+v, func(t *testing.T) {
			s := startShopVersion(t, storage.DriverSQLite, "", v)
			cfg := cliConfig(t, s.config)

			// A second hashcart whose consumer secret is not the app's.
			drv, dsn := storagetest.DSN(t, storage.DriverSQLite)
			port := freePort(t)
			stalePath := writeShopConfig(t, port, drv, dsn, "http://127.0.0.1:1", v, "")
			raw, _ := os.ReadFile(stalePath)
			os.WriteFile(stalePath, bytes.Replace(raw, []byte("consumer_secret: "+testSecret), []byte("consumer_secret: stale-secret"), 1), 0o600)
			stale := start(t, stalePath, fmt.Sprintf("http://127.0.0.1:%d", port))

			cases := []struct{ name, url, want string }{
				{"nothing listens", fmt.Sprintf("http://127.0.0.1:%d/webhooks/x", freePort(t)), "Unable to connect during CRC GET request"},
				{"not a webhook", s.base + "/healthz", "Invalid CRC token or json response format."},
				{"another consumer secret", stale.base + "/webhooks/x", "Invalid CRC token or json response format."},
			}
			for _, tc := range cases {
				r := runCLI(t, "webhook", "register", "--url", tc.url, "--config", cfg)
				if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "X could not verify "+tc.url) {
					t.Errorf("%s: exit %d, stderr:\n%s", tc.name, r.code, r.stderr)
				}
			}
			if hooks := s.sim.Webhooks(); len(hooks) != 0 {
				t.Fatalf("X kept refused webhooks: %+v", hooks)
			}
		})
	}
}

func TestWebhookCommandsRefuseIncompleteInput(t *testing.T) {
	path, _ := writeConfig(t, storage.DriverSQLite, filepath.Join(t.TempDir(), "x.db"), "")
	raw, _ := os.ReadFile(path)
	v11 := filepath.Join(t.TempDir(), "v11.yaml")
	os.WriteFile(v11, bytes.Replace(raw, []byte("\nx:\n"), []byte("\nx:\n  api_version: \"1.1\"\n"), 1), 0o600)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"subscribe without merchant", []string{"webhook", "subscribe", "--config", path}, 2, "--merchant is required"},
		{"unknown merchant", []string{"webhook", "subscribe", "--merchant", "nobody", "--config", path}, 1, `no merchant "nobody"`},
		{"v1.1 without environment", []string{"webhook", "list", "--config", v11}, 1, "x.environment is required"},
		{"unknown subcommand", []string{"webhook", "create"}, 2, `unknown subcommand "create"`},
	}
	for _, tc := range cases {
		r := runCLI(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, r.code, r.stderr, tc.code, tc.want)
		}
	}
}
