package storage

// providerTasksSchema queues calls to the payment provider that events
// decide on (a one-tap charge, deleting a forgotten buyer's customer) and
// that run after the event's transaction. A row holds references only (an
// order id, a buyer id), nothing personal.
const providerTasksSchema = `
CREATE TABLE provider_tasks (
	id          {{pk}},
	task_key    TEXT NOT NULL,
	kind        TEXT NOT NULL,
	provider    TEXT NOT NULL,
	order_id    {{bigint}} NOT NULL DEFAULT 0,
	buyer_id    TEXT NOT NULL,
	deadline    {{ts}},
	status      TEXT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	next_at     {{ts}} NOT NULL,
	lease_until {{ts}},
	created_at  {{ts}} NOT NULL,
	finished_at {{ts}}
);
CREATE UNIQUE INDEX provider_tasks_key ON provider_tasks (task_key);
CREATE INDEX provider_tasks_due ON provider_tasks (next_at, id) WHERE status = 'pending';
`
