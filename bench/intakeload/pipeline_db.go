package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// serverDB reads the running (or stopped) server's database, read-only in
// intent: it only runs SELECTs.
type serverDB struct {
	g *gorm.DB
}

func openServerDB(driver, dsn string) (*serverDB, error) {
	cfg := &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true}
	var d gorm.Dialector
	switch driver {
	case "sqlite":
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		d = sqlite.Open(dsn + sep + "_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	case "postgres":
		d = postgres.Open(dsn)
	default:
		return nil, fmt.Errorf("%w: --driver must be sqlite or postgres", errUsage)
	}
	g, err := gorm.Open(d, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", driver, err)
	}
	return &serverDB{g: g}, nil
}

func (db *serverDB) Close() error {
	s, err := db.g.DB()
	if err != nil {
		return err
	}
	return s.Close()
}

// backlog counts inbox_events and outbox_messages rows by status, keyed
// "inbox:STATUS" and "outbox:STATUS".
func (db *serverDB) backlog(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range []struct{ prefix, table string }{{"inbox", "inbox_events"}, {"outbox", "outbox_messages"}} {
		var rows []struct {
			Status string
			N      int
		}
		err := db.g.WithContext(ctx).Raw("SELECT status, count(*) AS n FROM " + t.table + " GROUP BY status").Scan(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", t.table, err)
		}
		for _, r := range rows {
			out[t.prefix+":"+r.Status] = r.N
		}
	}
	return out, nil
}

// stageRow is one event's server timestamps.
type stageRow struct {
	received, created, finished time.Time
}

// stages reads, for each tweet id, when the inbox received the event and
// when its DM was put in and taken out of the outbox.
func (db *serverDB) stages(ctx context.Context) (map[string]stageRow, error) {
	var in []struct {
		EventID    string
		ReceivedAt time.Time
	}
	err := db.g.WithContext(ctx).Raw("SELECT event_id, received_at FROM inbox_events WHERE kind = 'tweet_create'").Scan(&in).Error
	if err != nil {
		return nil, fmt.Errorf("read inbox_events: %w", err)
	}
	out := make(map[string]stageRow, len(in))
	for _, r := range in {
		out[strings.TrimPrefix(r.EventID, "tweet_create:")] = stageRow{received: r.ReceivedAt}
	}
	var msgs []struct {
		MsgKey     string
		Status     string
		CreatedAt  time.Time
		FinishedAt *time.Time
	}
	err = db.g.WithContext(ctx).Raw("SELECT msg_key, status, created_at, finished_at FROM outbox_messages WHERE msg_key LIKE 'tweet_create:%:dm_checkout'").Scan(&msgs).Error
	if err != nil {
		return nil, fmt.Errorf("read outbox_messages: %w", err)
	}
	// finished_at is also set when a message is given up; only 'sent'
	// rows are read, so Outbox is the time to a successful send.
	for _, m := range msgs {
		id := strings.TrimSuffix(strings.TrimPrefix(m.MsgKey, "tweet_create:"), ":dm_checkout")
		r, ok := out[id]
		if !ok {
			continue
		}
		r.created = m.CreatedAt
		if m.Status == "sent" && m.FinishedAt != nil {
			r.finished = *m.FinishedAt
		}
		out[id] = r
	}
	return out, nil
}

// stageSplit summarizes rows for the events due in [windowStart,
// windowEnd); start is the wall-clock time of offset 0. Each stage counts
// the events whose rows reached its end.
func stageSplit(events []sentEvent, tweetIDs []string, rows map[string]stageRow, start time.Time, windowStart, windowEnd time.Duration) *stageFigures {
	var intake, toOutbox, outbox []time.Duration
	for i, e := range events {
		if e.due < windowStart || e.due >= windowEnd {
			continue
		}
		r, ok := rows[tweetIDs[i]]
		if !ok {
			continue
		}
		intake = append(intake, r.received.Sub(start.Add(e.due)))
		if r.created.IsZero() {
			continue
		}
		toOutbox = append(toOutbox, r.created.Sub(r.received))
		if r.finished.IsZero() {
			continue
		}
		outbox = append(outbox, r.finished.Sub(r.created))
	}
	for _, s := range [][]time.Duration{intake, toOutbox, outbox} {
		slices.Sort(s)
	}
	return &stageFigures{
		InboxRows:     len(intake),
		IntakeP50Ms:   ms(percentile(intake, 0.50)),
		IntakeP99Ms:   ms(percentile(intake, 0.99)),
		QueuedRows:    len(toOutbox),
		ToOutboxP50Ms: ms(percentile(toOutbox, 0.50)),
		ToOutboxP99Ms: ms(percentile(toOutbox, 0.99)),
		SentRows:      len(outbox),
		OutboxP50Ms:   ms(percentile(outbox, 0.50)),
		OutboxP99Ms:   ms(percentile(outbox, 0.99)),
	}
}
