package webhooks

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// slotApp serves GET /page through s; each request blocks until release
// is closed (or at once once it is), and entered reports each start.
func slotApp(s *Slots, entered chan<- struct{}, release <-chan struct{}) *fiber.App {
	app := NewApp(1<<20, slog.New(slog.NewTextHandler(io.Discard, nil)))
	app.Get("/page", s.Wrap(func(c *fiber.Ctx) error {
		entered <- struct{}{}
		<-release
		return c.SendString("ok")
	}))
	return app
}

func TestPagesBeyondTheSlotsWaitTheirTurnAndReportTheWait(t *testing.T) {
	entered, release := make(chan struct{}, 10), make(chan struct{})
	app := slotApp(NewSlots(1, 5*time.Second), entered, release)
	var wg sync.WaitGroup
	resps := make([]*http.Response, 2)
	for i := range resps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/page", nil), -1)
			if err != nil {
				t.Error(err)
				return
			}
			resps[i] = resp
		}()
		if i == 0 {
			<-entered // the first holds the only slot
		}
	}
	select {
	case <-entered:
		t.Fatal("a second page rendered while the only slot was taken")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	<-entered
	waited := 0
	for _, resp := range resps {
		if resp == nil {
			t.Fatal("a request failed")
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		st := resp.Header.Get("Server-Timing")
		if !strings.Contains(st, "queue;dur=") || !strings.Contains(st, "app;dur=") {
			t.Fatalf("Server-Timing %q: want queue and app", st)
		}
		if queueMs(st) >= 100 {
			waited++
		}
	}
	if waited != 1 {
		t.Fatalf("%d requests reported waiting >= 100 ms for a slot, want 1", waited)
	}
}

func TestAPageThatWaitsTooLongGets503WithRetryAfter(t *testing.T) {
	entered, release := make(chan struct{}, 10), make(chan struct{})
	defer close(release)
	app := slotApp(NewSlots(1, 50*time.Millisecond), entered, release)
	go func() { _, _ = app.Test(httptest.NewRequest(http.MethodGet, "/page", nil), -1) }()
	<-entered
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/page", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestNoSlotsMeansNoWaitAndNoQueueTiming(t *testing.T) {
	entered, release := make(chan struct{}, 10), make(chan struct{})
	close(release)
	app := slotApp(NewSlots(0, time.Second), entered, release)
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/page", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.Header.Get("Server-Timing"); resp.StatusCode != 200 || strings.Contains(st, "queue") || !strings.HasPrefix(st, "app;dur=") {
		t.Fatalf("status %d, Server-Timing %q", resp.StatusCode, st)
	}
}

// queueMs is the queue;dur= value (ms) of a Server-Timing header.
func queueMs(st string) float64 {
	_, rest, _ := strings.Cut(st, "queue;dur=")
	v, _, _ := strings.Cut(rest, ",")
	f, _ := strconv.ParseFloat(v, 64)
	return f
}
