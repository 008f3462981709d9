package logctx

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestRecordsCarryTheContextsAttributes(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewTextHandler(&buf, nil)))
	ctx := With(context.Background(), slog.String("request_id", "r1"))
	ctx = With(ctx, slog.String("event_id", "tweet_create:5"))
	log.InfoContext(ctx, "hello", "n", 1)
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	if !strings.Contains(lines[0], "request_id=r1") || !strings.Contains(lines[0], "event_id=tweet_create:5") || !strings.Contains(lines[0], "n=1") {
		t.Errorf("line with context = %q", lines[0])
	}
	if strings.Contains(lines[1], "request_id") {
		t.Errorf("line without context = %q", lines[1])
	}
	if got := Value(ctx, "request_id"); got != "r1" {
		t.Errorf("Value = %q", got)
	}
}
