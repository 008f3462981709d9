package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTableJudgesTargets(t *testing.T) {
	in := `building...
bare: mode=closed (a result line, skipped)
{"label":"bare","mode":"closed","concurrency":64,"events_per_s":10000,"p99_ms":2}
{"label":"sqlite","mode":"closed","concurrency":64,"events_per_s":4900,"p99_ms":20}
{"label":"sqlite-5k","mode":"open","concurrency":64,"target_events_per_s":5000,"events_per_s":4990,"p99_ms":9.9}
{"label":"pg-5k","mode":"open","concurrency":64,"target_events_per_s":5000,"events_per_s":4000,"p99_ms":3}
{"label":"lost-5k","mode":"open","concurrency":64,"target_events_per_s":5000,"events_per_s":5000,"p99_ms":3,"non200":{"503":2}}
`
	var out, errOut bytes.Buffer
	err := runTable([]string{"--check-ratio", "sqlite=0.5", "--check-ratio", "pg=0.5",
		"--check-p99", "sqlite-5k=10ms", "--check-p99", "pg-5k=10ms", "--check-p99", "lost-5k=10ms"},
		strings.NewReader(in), &out, &errOut)
	if err != nil {
		t.Fatal(err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"| sqlite | closed | 64 | max | 4900 |",
		"| 0.49 |",
		"TARGET sqlite >= 50% of bare rate: 4900 / 10000 events/s = 49% -> MISSED",
		"TARGET pg >= 50% of bare rate: NOT MEASURED",
		"TARGET sqlite-5k p99 < 10ms at 5000 events/s: p99 9.90 ms, 4990 events/s acknowledged -> MET",
		"TARGET pg-5k p99 < 10ms at 5000 events/s: p99 3.00 ms, 4000 events/s acknowledged -> MISSED (only 4000 of 5000",
		"TARGET lost-5k p99 < 10ms at 5000 events/s: p99 3.00 ms, 5000 events/s acknowledged -> MISSED (2 deliveries failed)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
