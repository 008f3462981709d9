package xsim_test

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitReturnsOnceEnoughAreRecorded(t *testing.T) {
	sim, srv, _ := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a guard against hanging, not a wait for logic
	defer cancel()
	type dmResult struct {
		n   int
		err error
	}
	dms, posts := make(chan dmResult, 1), make(chan dmResult, 1)
	go func() {
		got, err := sim.WaitDMs(ctx, 2)
		dms <- dmResult{len(got), err}
	}()
	go func() {
		got, err := sim.WaitPosts(ctx, 1)
		posts <- dmResult{len(got), err}
	}()
	auth := oauthHeader(consumerKey, merchantToken)
	send(t, srv, v2DM, auth)
	select {
	case r := <-dms:
		t.Fatalf("WaitDMs(2) returned after one DM: %+v", r)
	default:
	}
	send(t, srv, v11DM, auth)
	if r := <-dms; r.err != nil || r.n != 2 {
		t.Errorf("WaitDMs(2) = %d DMs, %v", r.n, r.err)
	}
	send(t, srv, v11Reply, auth)
	if r := <-posts; r.err != nil || r.n != 1 {
		t.Errorf("WaitPosts(1) = %d posts, %v", r.n, r.err)
	}
}

func TestWaitGivesUpWhenTheContextEnds(t *testing.T) {
	sim, srv, _ := start(t)
	send(t, srv, v2DM, oauthHeader(consumerKey, merchantToken))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	go func() { _, err := sim.WaitDMs(ctx, 2); errc <- err }()
	go func() { _, err := sim.WaitPosts(ctx, 1); errc <- err }()
	cancel()
	for range 2 {
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	}
}

func TestResetForgetsRecordsCountsAndFaults(t *testing.T) {
	sim, srv, clock := start(t)
	auth := oauthHeader(consumerKey, merchantToken)
	send(t, srv, v2Reply, auth)
	send(t, srv, v2DM, auth)
	sim.RateLimitUntil(clock.Now().Add(time.Hour))
	sim.FailNext(5, 500)
	sim.CloseDMs("42", true)
	sim.Reset()
	if len(sim.Posts()) != 0 || len(sim.DMs()) != 0 || sim.Requests() != 0 {
		t.Fatalf("after Reset: %d posts, %d dms, %d requests", len(sim.Posts()), len(sim.DMs()), sim.Requests())
	}
	if a := send(t, srv, v2DM, auth); a.status != 201 {
		t.Errorf("after Reset: status %d, want 201 (faults cleared)", a.status)
	}
}

func TestChangesClosesAtTheNextRecordOnly(t *testing.T) {
	sim, srv, _ := start(t)
	c := sim.Changes()
	select {
	case <-c:
		t.Fatal("Changes closed before anything was recorded")
	default:
	}
	send(t, srv, v2DM, oauthHeader(consumerKey, merchantToken))
	select {
	case <-c:
	case <-time.After(5 * time.Second): // a guard against hanging
		t.Fatal("Changes not closed after a DM was recorded")
	}
	select {
	case <-sim.Changes():
		t.Fatal("the next Changes channel is closed before the next change")
	default:
	}
}

func TestNewIDNeverRepeatsRecordIDs(t *testing.T) {
	sim, srv, _ := start(t) // a frozen clock: ids must still increase
	a := sim.NewID()
	send(t, srv, v2DM, oauthHeader(consumerKey, merchantToken))
	b := sim.NewID()
	dm := sim.DMs()[0].ID
	seen := map[string]bool{}
	for _, id := range []string{a, dm, b} {
		if seen[id] {
			t.Fatalf("id %s handed out twice (NewID %s, DM %s, NewID %s)", id, a, dm, b)
		}
		seen[id] = true
	}
	if !(len(a) == len(b) && a < dm && dm < b) {
		t.Errorf("ids not increasing: %s, %s, %s", a, dm, b)
	}
}
