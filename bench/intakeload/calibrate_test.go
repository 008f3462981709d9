package main

import (
	"bytes"
	"os"
	"regexp"
	"testing"
)

// The calibration line names both measurements, and the fsync test file
// is gone afterwards.
func TestCalibrateMeasuresCPUAndSyncAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	c, err := calibrate(dir, 1<<20, 20)
	if err != nil {
		t.Fatal(err)
	}
	if c.CPU <= 0 || c.CPU2 <= 0 || c.WakeP99 < c.WakeP50 || c.SyncP50 <= 0 || c.SyncP99 < c.SyncP50 {
		t.Fatalf("calibration = %+v, want positive times and p99 >= p50", c)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"calibrate", "--dir", dir}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !regexp.MustCompile(`^machine now: sha256 of 32 MiB \d+ ms \(median of 5\), \d+ ms on 2 cores at once; 1 ms sleep late by p50 -?\d+ us, p99 -?\d+ us; 4 KiB write\+fsync p50 \d+ us, p99 \d+ us\n$`).Match(out.Bytes()) {
		t.Fatalf("line = %q", out.String())
	}
}
