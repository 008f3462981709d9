package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// calibration is how fast this machine is right now, measured the same
// way before every run, so that runs made while the machine was slow (the
// shared hosts these benchmarks run on vary by a factor of two within an
// hour) can be told from runs made while it was not.
type calibration struct {
	// CPU is the median of five SHA-256 passes over 32 MiB, one core;
	// CPU2 the same with a pass on each of two cores at once.
	CPU, CPU2 time.Duration
	// Wake is how late a 1 ms sleep wakes up, p50 and p99 of 200: the
	// scheduling delay other tenants of the host cause.
	WakeP50, WakeP99 time.Duration
	// Sync is a 4 KiB write and fsync, p50 and p99 of 200.
	SyncP50, SyncP99 time.Duration
}

func (c calibration) String() string {
	return fmt.Sprintf("machine now: sha256 of 32 MiB %.0f ms (median of 5), %.0f ms on 2 cores at once; 1 ms sleep late by p50 %d us, p99 %d us; 4 KiB write+fsync p50 %d us, p99 %d us",
		ms(c.CPU), ms(c.CPU2), c.WakeP50.Microseconds(), c.WakeP99.Microseconds(), c.SyncP50.Microseconds(), c.SyncP99.Microseconds())
}

// calibrate measures the machine: hashBytes hashed five times, syncs
// writes of 4 KiB each fsync'd in a temporary file in dir.
func calibrate(dir string, hashBytes, syncs int) (calibration, error) {
	buf := make([]byte, hashBytes)
	for i := range buf {
		buf[i] = byte(i)
	}
	var c calibration
	passes := make([]time.Duration, 5)
	for i := range passes {
		start := time.Now()
		sha256.Sum256(buf)
		passes[i] = time.Since(start)
	}
	slices.Sort(passes)
	c.CPU = passes[2]
	for i := range passes {
		start := time.Now()
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { sha256.Sum256(buf) })
		}
		wg.Wait()
		passes[i] = time.Since(start)
	}
	slices.Sort(passes)
	c.CPU2 = passes[2]
	late := make([]time.Duration, 200)
	for i := range late {
		start := time.Now()
		time.Sleep(time.Millisecond)
		late[i] = time.Since(start) - time.Millisecond
	}
	slices.Sort(late)
	c.WakeP50, c.WakeP99 = late[len(late)/2], late[len(late)*99/100]
	f, err := os.CreateTemp(dir, "calibrate-*")
	if err != nil {
		return c, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 4096)
	times := make([]time.Duration, 0, syncs)
	for i := range syncs {
		start := time.Now()
		if _, err := f.WriteAt(block, int64(i%64)*4096); err != nil {
			return c, err
		}
		if err := f.Sync(); err != nil {
			return c, err
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	if len(times) > 0 {
		c.SyncP50, c.SyncP99 = times[len(times)/2], times[len(times)*99/100]
	}
	return c, nil
}

func runCalibrate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", os.TempDir(), "directory for the fsync test file (the one the databases live in)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := calibrate(filepath.Clean(*dir), 32<<20, 200)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, c)
	return nil
}
