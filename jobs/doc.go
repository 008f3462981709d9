// Package jobs runs hashcart's scheduled work with robfig/cron. A schedule
// only says when to look for work: every unit of work is claimed as a
// database row by the store that owns it, so any number of instances can
// run the same schedule without doing anything twice. A run that would
// overlap the previous run of the same job is skipped, and each run's
// start, count and duration are logged.
package jobs
