package config

import (
	"strings"
	"testing"
	"time"
)

func TestOutboxDefaultsAndOverrides(t *testing.T) {
	c, err := Parse("f.yaml", []byte(fixture{}.String()), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Outbox{Workers: 3, Batch: 64, Concurrency: 32, PollInterval: Duration{200 * time.Millisecond}, Window: Duration{15 * time.Minute},
		PerAccount: 300, PerApp: 3000, MaxAge: Duration{time.Hour}, Lease: Duration{30 * time.Second}}
	if c.Outbox != want {
		t.Errorf("defaults = %+v, want %+v", c.Outbox, want)
	}
	c, err = Parse("f.yaml", []byte(fixture{tail: "outbox: { workers: 4, per_account: 50, max_age: 10m }\n"}.String()), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Outbox.Workers != 4 || c.Outbox.PerAccount != 50 || c.Outbox.MaxAge.Duration != 10*time.Minute || c.Outbox.Batch != 64 {
		t.Errorf("overridden = %+v", c.Outbox)
	}
}

func TestOutboxProblemsNameTheirLine(t *testing.T) {
	tests := []struct {
		name string
		tail string
		line int
		msg  string
		hint string
	}{
		{"zero workers", "outbox:\n  workers: 0\n", 12, `outbox.workers: must be more than 0, got 0`, ""},
		{"negative batch", "outbox: { batch: -1 }\n", 11, `outbox.batch: must be more than 0, got -1`, ""},
		{"zero poll", "outbox:\n  poll_interval: 0s\n", 12, `outbox.poll_interval: must be more than 0`, ""},
		{"zero window", "outbox:\n  window: 0s\n", 12, `outbox.window: must be more than 0`, ""},
		{"zero per_account", "outbox:\n  per_account: 0\n", 12, `outbox.per_account: must be more than 0`, ""},
		{"zero max_age", "outbox:\n  max_age: 0s\n", 12, `outbox.max_age: must be more than 0`, ""},
		{"app below account", "outbox:\n  per_account: 300\n  per_app: 100\n", 13, `outbox.per_app: 100 is less than per_account 300`, "at least per_account"},
		{"short lease", "outbox:\n  lease: 500ms\n", 12, `outbox.lease: 500ms is too short`, "30s"},
		{"unknown key", "outbox:\n  per_acount: 5\n", 12, `unknown key "per_acount"`, "per_account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, fixture{tail: tt.tail}.String(), noEnv)
			for _, p := range ps {
				if p.Line == tt.line && strings.Contains(p.Message, tt.msg) && strings.Contains(p.Hint, tt.hint) {
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q with hint containing %q; got:\n%s",
				tt.line, tt.msg, tt.hint, (&Problems{File: "f.yaml", List: ps}).Error())
		})
	}
}
