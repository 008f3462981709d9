package storage

import "sync"

// writeGate orders access to SQLite's single writer connection. database/sql
// hands a freed connection to a random waiter, so a webhook commit (which a
// delivery is waiting on) would queue behind background work (inbox
// processing, outbox claims) as often as not. Through the gate, urgent
// transactions go first: acknowledgements before everything else.
type writeGate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	busy   bool
	urgent int // urgent callers waiting
}

func newWriteGate() *writeGate {
	g := &writeGate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *writeGate) lock(urgent bool) {
	g.mu.Lock()
	if urgent {
		g.urgent++
		for g.busy {
			g.cond.Wait()
		}
		g.urgent--
	} else {
		for g.busy || g.urgent > 0 {
			g.cond.Wait()
		}
	}
	g.busy = true
	g.mu.Unlock()
}

func (g *writeGate) unlock() {
	g.mu.Lock()
	g.busy = false
	g.mu.Unlock()
	g.cond.Broadcast()
}

// urgentWaiting reports whether an urgent transaction waits for the gate,
// so that the holder can finish early.
func (g *writeGate) urgentWaiting() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.urgent > 0
}
