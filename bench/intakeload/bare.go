package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// newBareApp returns the reference: a Fiber app with hashcart's body limit
// and read buffer whose POST path handler only checks the delivery
// signature (in constant time) and answers 200, or 401 when it is wrong.
func newBareApp(secret, path string, maxBody int) *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "intakeload-bare",
		BodyLimit:             maxBody,
		DisableStartupMessage: true,
		ReadBufferSize:        16 * 1024,
	})
	key := []byte(secret)
	app.Post(path, func(c *fiber.Ctx) error {
		if !validSignature(key, c.Get(signatureHeader), c.Body()) {
			return c.SendStatus(fiber.StatusUnauthorized)
		}
		return c.SendStatus(fiber.StatusOK)
	})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	return app
}

// validSignature checks an "sha256=base64" header against body.
func validSignature(key []byte, header string, body []byte) bool {
	got, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(got)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hmac.Equal(raw, m.Sum(nil))
}

func runBare(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8099", "loopback address to listen on")
	secret := fs.String("secret", "", "consumer secret the deliveries are signed with (required)")
	path := fs.String("path", "/webhooks/x", "webhook path")
	maxBody := fs.Int("max-body", 64*1024, "body limit in bytes")
	maxRun := fs.Duration("max-run", 10*time.Minute, "stop by itself after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		return fmt.Errorf("%w: --secret is required", errUsage)
	}
	if err := loopbackHostPort(*listen); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	app := newBareApp(*secret, *path, *maxBody)
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	log.Info("bare handler listening", "addr", ln.Addr().String(), "path", *path)
	ctx, cancel := context.WithTimeout(ctx, *maxRun)
	defer cancel()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("bare handler stopped")
	return nil
}
