package storage

const inboxSchema = `
CREATE TABLE inbox_events (
	id              {{pk}},
	event_id        TEXT NOT NULL,
	for_user_id     TEXT NOT NULL,
	kind            TEXT NOT NULL,
	payload         TEXT NOT NULL,
	users           TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	received_at     {{ts}} NOT NULL,
	next_attempt_at {{ts}} NOT NULL,
	processed_at    {{ts}}
);
CREATE UNIQUE INDEX inbox_events_event_id ON inbox_events (event_id);
CREATE INDEX inbox_events_pending ON inbox_events (id) WHERE status = 'pending';
`

// inboxDueSchema orders pending events by when they are due. The claim
// walked inbox_events_pending by id and looked up each row's next attempt:
// events waiting out a retry backoff (a handler failing on a burst of
// events) were read on every pass, 1.6 ms a pass at 5,000 of them.
const inboxDueSchema = `
CREATE INDEX inbox_events_due ON inbox_events (next_attempt_at, id) WHERE status = 'pending';
DROP INDEX inbox_events_pending;
`
