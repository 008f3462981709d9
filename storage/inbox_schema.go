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
