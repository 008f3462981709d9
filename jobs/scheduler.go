package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Job is one kind of scheduled work.
type Job interface {
	// Name names the job in logs.
	Name() string
	// Run does the work that is due and returns how many units it did.
	Run(ctx context.Context) (int, error)
}

// Parser reads schedules: standard cron with an optional leading seconds
// field, or descriptors such as "@every 10s".
var Parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Scheduler runs jobs on their schedules.
type Scheduler struct {
	// Observe, when set before Run, is told of every run: the job's name,
	// how long it took, how many units it did and its error (for metrics).
	Observe func(job string, d time.Duration, n int, err error)

	log  *slog.Logger
	cron *cron.Cron
	ctx  context.Context
	mu   sync.Mutex
	busy map[string]bool
}

// New returns a scheduler that logs to log.
func New(log *slog.Logger) *Scheduler {
	return &Scheduler{log: log, cron: cron.New(cron.WithParser(Parser)), busy: map[string]bool{}}
}

// Add schedules job. A run is skipped, with a log line, while the previous
// run of the same job is still going.
func (s *Scheduler) Add(spec string, job Job) error {
	if _, err := s.cron.AddFunc(spec, func() { s.run(job) }); err != nil {
		return fmt.Errorf("schedule %s %q: %w", job.Name(), spec, err)
	}
	return nil
}

func (s *Scheduler) run(job Job) {
	name := job.Name()
	s.mu.Lock()
	if s.busy[name] || s.ctx == nil || s.ctx.Err() != nil {
		running := s.busy[name]
		s.mu.Unlock()
		if running {
			s.log.Warn("job run skipped: the previous run is still going", "job", name)
		}
		return
	}
	s.busy[name] = true
	ctx := s.ctx
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.busy[name] = false
		s.mu.Unlock()
	}()
	start := time.Now()
	n, err := job.Run(ctx)
	took := time.Since(start)
	if s.Observe != nil {
		s.Observe(name, took, n, err)
	}
	attrs := []any{"job", name, "count", n, "duration", took.Round(time.Microsecond)}
	switch {
	case err != nil:
		s.log.Error("job run failed", append(attrs, "err", err)...)
	case n > 0:
		s.log.Info("job run", attrs...)
	default:
		s.log.Debug("job run", attrs...)
	}
}

// Run starts the schedules and blocks until ctx ends, then waits for runs
// under way to finish.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	s.cron.Start()
	<-ctx.Done()
	<-s.cron.Stop().Done()
}
