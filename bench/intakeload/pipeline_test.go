package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	hcconfig "github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/inbox"
)

func msd(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestPipelineLatencyIsDMArrivalMinusDueTime(t *testing.T) {
	// Window [1000ms, 2000ms), deadline 5000ms.
	events := []sentEvent{
		{user: "warmup", due: msd(500), sent: msd(501), acked: msd(505), status: 200},
		{user: "a", due: msd(1000), sent: msd(1001), acked: msd(1004), status: 200},
		{user: "b", due: msd(1100), sent: msd(1130), acked: msd(1150), status: 200},
		{user: "c", due: msd(1200), sent: msd(1201), acked: msd(1203), status: 200},
		{user: "late", due: msd(1300), sent: msd(1301), acked: msd(1302), status: 200},
		{user: "refused", due: msd(1400), sent: msd(1401), acked: msd(1402), status: 503},
		{user: "after", due: msd(2000), sent: msd(2001), acked: msd(2002), status: 200},
	}
	arrivals := map[string]time.Duration{
		"warmup": msd(10000), // outside the window: ignored however slow
		"a":      msd(1020),
		"b":      msd(1190), // 90 ms after due, though sent 30 ms late
		"c":      msd(1210),
		"late":   msd(5001), // after the deadline: missing
		"after":  msd(2001),
	}
	res := joinPipeline(events, arrivals, msd(1000), msd(2000), msd(5000))
	if res.Events != 5 || res.Acked != 4 || res.AckNon200[503] != 1 {
		t.Fatalf("events %d acked %d non-200 %v; want 5, 4, {503:1}", res.Events, res.Acked, res.AckNon200)
	}
	if res.WithDM != 3 || res.Missing != 2 {
		t.Fatalf("with DM %d, missing %d; want 3 and 2", res.WithDM, res.Missing)
	}
	// Sorted: a 20, c 10, b 90, then late (>= 3700) and refused (>= 3600)
	// as lower bounds: 10, 20, 90, 3600+, 3700+.
	if res.P50Ms != 90 || res.Censored != true || res.MaxMs != 3700 {
		t.Fatalf("p50 %v max %v censored %v; want 90, 3700 (a lower bound), true", res.P50Ms, res.MaxMs, res.Censored)
	}
	if res.AckP50Ms != 3 || res.AckMaxMs != 50 || res.SendLagP99Ms != 30 {
		t.Fatalf("ack p50 %v max %v send lag p99 %v; want 3, 50, 30", res.AckP50Ms, res.AckMaxMs, res.SendLagP99Ms)
	}
	if met, why := pipelineVerdict(res, 100*time.Millisecond); met || !strings.Contains(why, "2 events without a DM") {
		t.Fatalf("verdict %v %q: missing DMs must fail the target", met, why)
	}
}

func TestPipelineVerdict(t *testing.T) {
	ok := PipelineResult{Events: 100, Acked: 100, WithDM: 100, P99Ms: 99.9, GraceS: 10}
	cases := []struct {
		name string
		r    func(PipelineResult) PipelineResult
		met  bool
		why  string
	}{
		{"all DMs, p99 under", func(r PipelineResult) PipelineResult { return r }, true, "p99 99.9 ms < 100ms"},
		{"p99 at the limit", func(r PipelineResult) PipelineResult { r.P99Ms = 100; return r }, false, "p99 100.0 ms is 0.0 ms over"},
		{"p99 over", func(r PipelineResult) PipelineResult { r.P99Ms = 250; return r }, false, "150.0 ms over"},
		{"one not acknowledged", func(r PipelineResult) PipelineResult { r.Acked = 99; return r }, false, "1 events not acknowledged"},
		{"nothing measured", func(r PipelineResult) PipelineResult { return PipelineResult{} }, false, "no events measured"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			met, why := pipelineVerdict(c.r(ok), 100*time.Millisecond)
			if met != c.met || !strings.Contains(why, c.why) {
				t.Fatalf("got %v %q, want %v and %q", met, why, c.met, c.why)
			}
		})
	}
}

func TestDMClockNotesFirstDMRequestPerRecipient(t *testing.T) {
	var mu sync.Mutex
	now := time.Duration(0)
	since := func() time.Duration { mu.Lock(); defer mu.Unlock(); return now }
	set := func(d time.Duration) { mu.Lock(); now = d; mu.Unlock() }
	passed := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { passed++; w.WriteHeader(201) })
	clock := newDMClock(next, since)
	do := func(method, path string) {
		rec := httptest.NewRecorder()
		clock.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(`{"text":"hi"}`)))
		if rec.Code != 201 {
			t.Fatalf("%s %s: status %d, want the simulator's", method, path, rec.Code)
		}
	}
	set(msd(10))
	do("POST", "/2/dm_conversations/with/701/messages")
	set(msd(20))
	do("POST", "/2/dm_conversations/with/701/messages") // a retry: first arrival kept
	do("POST", "/2/tweets")                             // the public reply: not a DM
	do("GET", "/2/dm_conversations/with/702/messages")
	do("POST", "/2/dm_conversations/with/703/messages/extra")
	set(msd(30))
	do("POST", "/2/dm_conversations/with/704/messages")
	first, requests := clock.snapshot()
	if passed != 6 {
		t.Fatalf("%d requests reached the simulator, want all 6", passed)
	}
	if requests != 3 || len(first) != 2 || first["701"] != msd(10) || first["704"] != msd(30) {
		t.Fatalf("requests %d, first %v; want 3 and 701@10ms 704@30ms", requests, first)
	}
}

func TestDMClockWaitEndsOnLastArrivalOrDeadline(t *testing.T) {
	start := time.Now()
	since := func() time.Duration { return time.Since(start) }
	clock := newDMClock(http.NotFoundHandler(), since)
	if clock.waitFor([]string{"1"}, 0) {
		t.Fatal("waitFor reported a DM that never came")
	}
	done := make(chan bool)
	go func() { done <- clock.waitFor([]string{"1", "2"}, time.Minute) }()
	for _, id := range []string{"2", "1"} {
		clock.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/2/dm_conversations/with/"+id+"/messages", nil))
	}
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("waitFor gave up though both DMs came")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitFor did not wake when the last DM came")
	}
}

func TestPipelineConfigIsAcceptedByHashcart(t *testing.T) {
	text := pipelineConfig(pipelineSettings{
		Port: 18500, Driver: "postgres", DSN: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path=bench_pipe_1",
		APIBaseURL: "http://127.0.0.1:18501", ConsumerKey: "k", ConsumerSecret: "s", MerchantID: "2244994945", ScreenName: "acme",
	})
	cfg, err := hcconfig.Parse("pipeline.yaml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("hashcart refuses the config: %v\n%s", err, text)
	}
	if cfg.X.APIVersion != "2" || cfg.X.APIBaseURL != "http://127.0.0.1:18501" || cfg.Storage.DSN != "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path=bench_pipe_1" {
		t.Fatalf("x %+v storage %+v", cfg.X, cfg.Storage)
	}
	if cfg.Outbox.PerAccount < 1_000_000 || cfg.Outbox.PerApp < 1_000_000 || cfg.Outbox.PollInterval.Duration != 50*time.Millisecond || cfg.Intake.PollInterval.Duration != 50*time.Millisecond {
		t.Fatalf("outbox %+v intake %+v: want no rate limit and 50ms polls", cfg.Outbox, cfg.Intake)
	}
	m, ok := cfg.MerchantByXUserID("2244994945")
	if !ok || len(m.Offers) != 1 {
		t.Fatalf("merchant %+v", m)
	}
	o := m.Offers[0]
	if o.Stock != nil || o.PerCustomerLimit != 0 || len(o.Variants) != 0 || len(o.PostIDs) != 1 || o.PostIDs[0] != pipelinePostID || o.Price != "25.00" {
		t.Fatalf("offer %+v: want unlimited, price 25.00, on post %s", o, pipelinePostID)
	}
}

func TestPipelineEventsAreSignedRepliesFromDistinctShoppers(t *testing.T) {
	seenUsers, seenTweets := map[string]bool{}, map[string]bool{}
	for _, run := range []string{"000001", "000002"} {
		for n := range 50 {
			e, err := buildPipelineEvent("secret", "2244994945", "acme", run, n*1_000_000, time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if !validSignature([]byte("secret"), e.Signature, e.Body) {
				t.Fatalf("event %d: signature does not verify", n)
			}
			forUser, evs, err := inbox.Split(e.Body, time.Unix(0, 0))
			if err != nil || forUser != "2244994945" || len(evs) != 1 || evs[0].Kind != inbox.KindTweetCreate {
				t.Fatalf("event %d: split %q %v %v", n, forUser, evs, err)
			}
			var body struct {
				Events []struct {
					IDStr     string `json:"id_str"`
					Text      string `json:"text"`
					InReplyTo string `json:"in_reply_to_status_id_str"`
					User      struct {
						IDStr string `json:"id_str"`
					} `json:"user"`
				} `json:"tweet_create_events"`
			}
			if err := json.NewDecoder(bytes.NewReader(e.Body)).Decode(&body); err != nil {
				t.Fatal(err)
			}
			tw := body.Events[0]
			if tw.IDStr != e.TweetID || tw.User.IDStr != e.UserID || tw.InReplyTo != pipelinePostID || tw.Text != "@acme #BuyNow" {
				t.Fatalf("event %d: %+v (want tweet %s from %s)", n, tw, e.TweetID, e.UserID)
			}
			if seenUsers[e.UserID] || seenTweets[e.TweetID] {
				t.Fatalf("run %s event %d repeats user %s or tweet %s", run, n, e.UserID, e.TweetID)
			}
			seenUsers[e.UserID], seenTweets[e.TweetID] = true, true
		}
	}
}

func TestStageSplitUsesTheServerRowsOfMeasuredEvents(t *testing.T) {
	start := time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)
	events := []sentEvent{{due: msd(500)}, {due: msd(1000)}, {due: msd(1100)}, {due: msd(1200)}}
	ids := []string{"t0", "t1", "t2", "t3"}
	at := func(d float64) time.Time { return start.Add(msd(d)) }
	rows := map[string]stageRow{
		"t0": {received: at(501), created: at(600), finished: at(700)}, // warm-up: ignored
		"t1": {received: at(1002), created: at(1012), finished: at(1042)},
		"t2": {received: at(1104), created: at(1124)}, // queued, not sent
		// t3 has no row
	}
	s := stageSplit(events, ids, rows, start, msd(1000), msd(2000))
	want := stageFigures{InboxRows: 2, IntakeP50Ms: 2, IntakeP99Ms: 4, QueuedRows: 2, ToOutboxP50Ms: 10, ToOutboxP99Ms: 20, SentRows: 1, OutboxP50Ms: 30, OutboxP99Ms: 30}
	if *s != want {
		t.Fatalf("stages %+v, want %+v", *s, want)
	}
}

func TestPipelineTableMarksLowerBoundsAndJudges(t *testing.T) {
	in := `sqlite-1000: a result line, skipped
{"label":"sqlite-1000","driver":"sqlite","target_events_per_s":1000,"events":10000,"acked":10000,"with_dm":0,"missing":10000,"p50_ms":15000,"p90_ms":19000,"p99_ms":19900,"max_ms":20000,"censored":true,"grace_s":10}
{"label":"sqlite-100","driver":"sqlite","target_events_per_s":100,"events":1000,"acked":1000,"with_dm":1000,"p50_ms":40,"p90_ms":60,"p99_ms":80,"max_ms":90,"stages":{"inbox_rows":1000,"intake_p99_ms":3,"queued_rows":1000,"to_outbox_p50_ms":5,"to_outbox_p99_ms":9,"sent_rows":1000,"outbox_p50_ms":30,"outbox_p99_ms":70}}
`
	var out, errOut bytes.Buffer
	if err := runPipelineTable(nil, strings.NewReader(in), &out, &errOut); err != nil {
		t.Fatal(err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"| sqlite-1000 | 1000 | 10000 | ≥ 15000.0 |",
		"| 10000 |",
		"| sqlite-100 | 100 | 1000 | 40.0 | 60.0 | 80.0 | 90.0 | 0 |",
		"| 3.0 | 5 / 9 (1000) | 30 / 70 (1000) |",
		"TARGET sqlite-1000 pipeline p99 < 100ms at 1000 events/s: 10000 events without a DM within 10 s",
		"-> MISSED",
		"TARGET sqlite-100 pipeline p99 < 100ms at 100 events/s: p99 80.0 ms < 100ms -> MET",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
