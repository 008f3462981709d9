package storage

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hashcart/hashcart/bot/outbox"
	"github.com/hashcart/hashcart/commerce"
	"gorm.io/gorm"
)

// outboxRow is the outbox_messages table.
type outboxRow struct {
	ID            int64
	MsgKey        string
	MerchantID    string
	Kind          string
	Priority      int
	RecipientID   string
	InReplyTo     string
	Body          string
	LinkBuyerID   string
	LinkKind      string
	LinkTargetID  int64
	LinkExpiresAt *time.Time
	Grp           string
	Collapse      string
	OnSent        string
	OnDMClosed    string `gorm:"column:on_dm_closed"`
	Status        string
	Attempts      int
	Claims        int64
	LastError     string
	XID           string `gorm:"column:x_id"`
	CreatedAt     time.Time
	NextAttemptAt time.Time
	LeaseUntil    *time.Time
	FinishedAt    *time.Time
}

func (outboxRow) TableName() string { return "outbox_messages" }

// message rebuilds the outbox.Message stored in r.
func (r outboxRow) message() (outbox.Message, error) {
	m := outbox.Message{
		Key:         r.MsgKey,
		MerchantID:  r.MerchantID,
		Kind:        outbox.Kind(r.Kind),
		Priority:    r.Priority,
		RecipientID: r.RecipientID,
		InReplyTo:   r.InReplyTo,
		Text:        r.Body,
		Group:       r.Grp,
	}
	if r.LinkBuyerID != "" {
		m.Link = &outbox.Link{
			BuyerID: r.LinkBuyerID,
			Target:  commerce.LinkTarget{Kind: commerce.LinkKind(r.LinkKind), ID: r.LinkTargetID},
		}
		if r.LinkExpiresAt != nil {
			m.Link.ExpiresAt = r.LinkExpiresAt.UTC()
		}
	}
	var err error
	if m.Collapse, err = decodeFollowUp(r.Collapse); err != nil {
		return m, fmt.Errorf("outbox message %q collapse: %w", r.MsgKey, err)
	}
	if m.OnSent, err = decodeFollowUp(r.OnSent); err != nil {
		return m, fmt.Errorf("outbox message %q on_sent: %w", r.MsgKey, err)
	}
	if m.OnDMClosed, err = decodeFollowUp(r.OnDMClosed); err != nil {
		return m, fmt.Errorf("outbox message %q on_dm_closed: %w", r.MsgKey, err)
	}
	return m, nil
}

func encodeFollowUp(m *outbox.Message) (string, error) {
	if m == nil {
		return "", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func decodeFollowUp(s string) (*outbox.Message, error) {
	if s == "" {
		return nil, nil
	}
	var m outbox.Message
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Outbox implements outbox.Store.
type Outbox struct{ db *DB }

// Outbox returns the outbox store.
func (db *DB) Outbox() *Outbox { return &Outbox{db: db} }

var _ outbox.Store = (*Outbox)(nil)

// Enqueue implements outbox.Store with INSERT ... ON CONFLICT DO NOTHING in
// ctx's transaction (or its own), one statement for up to 100 messages.
// Every message is validated before any is stored.
func (s *Outbox) Enqueue(ctx context.Context, msgs ...outbox.Message) error {
	for i := range msgs {
		if err := msgs[i].Validate(); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	now := s.db.Now()
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		for start := 0; start < len(msgs); start += 100 {
			part := msgs[start:min(start+100, len(msgs))]
			var sb strings.Builder
			sb.WriteString(`INSERT INTO outbox_messages
(msg_key, merchant_id, kind, priority, recipient_id, in_reply_to, body, link_buyer_id, link_kind, link_target_id, link_expires_at,
 grp, collapse, on_sent, on_dm_closed, status, created_at, next_attempt_at, finished_at)
VALUES `)
			args := make([]any, 0, len(part)*19)
			for i := range part {
				vals, pending, err := s.values(ctx, &part[i], now)
				if err != nil {
					return err
				}
				if pending {
					s.db.noteEnqueued(ctx, OutboxWork)
				}
				if i > 0 {
					sb.WriteString(",")
				}
				sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
				args = append(args, vals...)
			}
			sb.WriteString(" ON CONFLICT (msg_key) DO NOTHING")
			if _, err := s.db.exec(ctx, sb.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueue %d outbox messages: %w", len(msgs), err)
	}
	return nil
}

// values returns m's row for Enqueue's INSERT, and whether it is to be
// sent (not collapsed at once).
func (s *Outbox) values(ctx context.Context, m *outbox.Message, now time.Time) ([]any, bool, error) {
	collapse, err := encodeFollowUp(m.Collapse)
	if err != nil {
		return nil, false, err
	}
	onSent, err := encodeFollowUp(m.OnSent)
	if err != nil {
		return nil, false, err
	}
	onDMClosed, err := encodeFollowUp(m.OnDMClosed)
	if err != nil {
		return nil, false, err
	}
	var (
		buyer, linkKind string
		target          int64
		linkExpires     *time.Time
	)
	if m.Link != nil {
		buyer, linkKind, target = m.Link.BuyerID, string(m.Link.Target.Kind), m.Link.Target.ID
		t := m.Link.ExpiresAt.UTC()
		linkExpires = &t
	}
	status, finished := outbox.StatusPending, (*time.Time)(nil)
	if m.Group != "" {
		// A member of a group already collapsed into one post is
		// collapsed at once: the post has answered it. Left pending, it
		// would wait for a claim to collapse it, and while the account
		// has no budget left no claim takes it: the pending rows of a
		// drop's losers piled up, and every claim read them all.
		var one int
		switch err := s.db.queryRow(ctx, groupCollapsedSQL, m.Group).Scan(&one); {
		case err == nil:
			status, finished = outbox.StatusCollapsed, &now
		case !errors.Is(err, sql.ErrNoRows):
			return nil, false, fmt.Errorf("look up group %q: %w", m.Group, err)
		}
	}
	return []any{m.Key, m.MerchantID, string(m.Kind), m.Priority, m.RecipientID, m.InReplyTo, m.Text, buyer, linkKind, target, linkExpires,
		m.Group, collapse, onSent, onDMClosed, string(status), now, now, finished}, status == outbox.StatusPending, nil
}

// The queries on a group's messages also ask that grp is not the empty
// string, which a group never is: only then may SQLite, and PostgreSQL in
// a generic plan, read
// them from the partial index outbox_messages_group. Without it SQLite
// read every collapsed message of the table for each message of a group
// enqueued (a drop's sold-out answers: a sixth of the server's CPU at
// 5,000 replies/s).
const (
	groupCollapsedSQL = `SELECT 1 FROM outbox_messages WHERE grp = ? AND grp <> '' AND status = 'collapsed' LIMIT 1`
	groupCountsSQL    = `SELECT
	COALESCE(SUM(CASE WHEN status = 'pending' OR id = ? THEN 1 ELSE 0 END), 0) AS pending,
	COALESCE(SUM(CASE WHEN status = 'collapsed' THEN 1 ELSE 0 END), 0) AS collapsed
FROM outbox_messages WHERE grp = ? AND grp <> ''`
	groupMembersSQL = `SELECT id FROM outbox_messages WHERE grp = ? AND grp <> '' AND (status = 'pending' OR id = ?)`
)

// expireLimit bounds how many messages one pass gives up, so that a backlog
// of old messages does not make one transaction long.
const expireLimit = 500

// Claim implements outbox.Store.
//
// On PostgreSQL the pass first locks the app budget row, which every pass
// needs: passes of all instances thus run one at a time (as SQLite's single
// writer makes them anyway), and the budget rows are always locked in the
// same order, so passes cannot deadlock. A pass is short and makes no
// network call; the sends it leases run outside it, in parallel.
func (s *Outbox) Claim(ctx context.Context, req outbox.ClaimRequest) (outbox.Claim, error) {
	var out outbox.Claim
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		out = outbox.Claim{}
		tx := s.db.write(ctx)
		now := req.Now.UTC()
		cutoff := now.Add(-req.Budget.Window)

		// Reading the app's budget locks it (PostgreSQL): first, as every
		// pass does.
		budgets := &budgetLedger{s: s, tx: tx, now: now, cutoff: cutoff, keys: map[string]*budgetState{}}
		if _, err := budgets.load(outbox.AppBudgetKey); err != nil {
			return fmt.Errorf("lock app budget: %w", err)
		}

		var expired []outbox.Expired
		var err error
		if !req.SkipExpiry {
			expired, err = s.expire(tx, now, now.Add(-req.MaxAge))
		}
		if err != nil {
			return err
		}
		out.Expired = expired

		rows, err := s.dueRows(tx, now, req, budgets)
		if err != nil {
			return err
		}
		rows, expired, err = s.expireLinks(tx, rows, now)
		if err != nil {
			return err
		}
		out.Expired = append(out.Expired, expired...)
		outOfBudget := map[string]bool{}
		// Leases are written in one UPDATE per run of claimed rows rather
		// than one per row (fewer statements on the single writer); they
		// are flushed before anything that reads statuses (collapse) and
		// when the pass ends.
		lease := now.Add(req.Lease)
		var leased []int64
		flush := func() error {
			if len(leased) == 0 {
				return nil
			}
			err := tx.Exec(`UPDATE outbox_messages SET status = 'sending', claims = claims + 1, lease_until = ? WHERE id IN ?`,
				lease, leased).Error
			leased = leased[:0]
			if err != nil {
				return fmt.Errorf("lease: %w", err)
			}
			return nil
		}
		flushAll := func() error {
			if err := flush(); err != nil {
				return err
			}
			return budgets.flush()
		}
		if err := s.claimRows(ctx, tx, rows, req, now, lease, outOfBudget, &leased, budgets, flushAll, &out); err != nil {
			return err
		}
		if err := flushAll(); err != nil {
			return err
		}
		if req.Prepare != nil && len(out.Messages) > 0 {
			if err := req.Prepare(ctx, out.Messages); err != nil {
				return fmt.Errorf("%w: %w", outbox.ErrPrepare, err)
			}
		}
		return nil
	})
	if err != nil {
		return outbox.Claim{}, fmt.Errorf("claim outbox: %w", err)
	}
	return out, nil
}

// The queries of dueRows. Which accounts may send is the budget ledger's
// to say (budgetLedger.blockedUntil), not theirs.
const (
	// lapsedSQL reads messages whose lease ran out. Arguments: now, a
	// limit.
	lapsedSQL = `SELECT * FROM outbox_messages m WHERE m.status = 'sending' AND m.lease_until <= ?
ORDER BY m.lease_until LIMIT ?`
	// dueSQL reads pending messages in sending order from
	// outbox_messages_ready: those whose next attempt is to come are
	// passed over in the index, never read from the table. Arguments: now;
	// the priority, next attempt and id of the last row read before (to
	// read on after it); a limit.
	dueSQL = `SELECT * FROM outbox_messages m WHERE m.status = 'pending' AND m.next_attempt_at <= ?
AND (m.priority, m.next_attempt_at, m.id) > (?, ?, ?)
ORDER BY m.priority, m.next_attempt_at, m.id LIMIT ?`
)

// dueRows returns up to req.Limit messages to claim, in sending order:
// lower priority first; within a priority, messages whose lease ran out
// (a sender stopped without an outcome; looked for only when
// req.SkipExpiry is not set), then pending ones by the time they became
// due. Both queries read only due rows from the table (dueSQL,
// outbox_messages_leased), however many messages wait out a backoff.
//
// A due message of an account that X has blocked, or whose window's budget
// is spent, is not sendable before the block or the window ends: its next
// attempt is moved there (deferBlocked), so that later passes do not read
// it again. (Filtering such messages in the query read all of them on
// every pass: a drop's answers past the account's budget, 550 of them,
// took a sixth of the server's CPU with passes back to back.) Nothing is
// read while the app's own budget is spent or blocked.
func (s *Outbox) dueRows(tx *gorm.DB, now time.Time, req outbox.ClaimRequest, budgets *budgetLedger) ([]outboxRow, error) {
	if _, blocked, err := budgets.blockedUntil(outbox.AppBudgetKey, req.Budget.PerApp); err != nil || blocked {
		return nil, err
	}
	var lapsed []outboxRow
	if !req.SkipExpiry {
		err := tx.Raw(lapsedSQL+s.db.forUpdate(), now, req.Limit).Scan(&lapsed).Error
		if err != nil {
			return nil, fmt.Errorf("select lapsed leases: %w", err)
		}
		// Ordered by lease in the query, so that it reads the few lapsed
		// rows from outbox_messages_leased (ordered by priority,
		// PostgreSQL's generic plan walked outbox_messages_due through
		// every waiting row).
		slices.SortFunc(lapsed, func(a, b outboxRow) int {
			return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
		})
	}
	var pending []outboxRow
	afterPriority, afterAt, afterID := math.MinInt32, time.Time{}, int64(0) // priorities are INTEGER columns
	for len(pending) < req.Limit {
		want := req.Limit - len(pending)
		var due []outboxRow
		err := tx.Raw(dueSQL+s.db.forUpdate(), now, afterPriority, afterAt, afterID, want).Scan(&due).Error
		if err != nil {
			return nil, fmt.Errorf("select due: %w", err)
		}
		deferred, err := s.deferBlocked(tx, due, req.Budget, budgets)
		if err != nil {
			return nil, err
		}
		for _, r := range due {
			if !deferred[r.ID] {
				pending = append(pending, r)
			}
		}
		if len(due) < want || len(deferred) == 0 {
			break // no more due messages, or the batch is full
		}
		last := due[len(due)-1]
		afterPriority, afterAt, afterID = last.Priority, last.NextAttemptAt, last.ID
	}
	rows := make([]outboxRow, 0, len(pending)+len(lapsed))
	for _, r := range pending {
		for len(lapsed) > 0 && lapsed[0].Priority <= r.Priority {
			rows, lapsed = append(rows, lapsed[0]), lapsed[1:]
		}
		rows = append(rows, r)
	}
	rows = append(rows, lapsed...)
	return rows[:min(len(rows), req.Limit)], nil
}

// deferBlocked moves the next attempt of those of due whose account is
// blocked or out of budget to when that ends, and returns their ids.
func (s *Outbox) deferBlocked(tx *gorm.DB, due []outboxRow, budget outbox.Budget, budgets *budgetLedger) (map[int64]bool, error) {
	var deferred map[int64]bool
	byUntil := map[time.Time][]int64{}
	for _, r := range due {
		until, blocked, err := budgets.blockedUntil(outbox.AccountBudgetKey(r.MerchantID), budget.PerAccount)
		if err != nil {
			return nil, err
		}
		if !blocked {
			continue
		}
		if deferred == nil {
			deferred = map[int64]bool{}
		}
		deferred[r.ID] = true
		byUntil[until] = append(byUntil[until], r.ID)
	}
	for until, ids := range byUntil {
		if err := tx.Exec(`UPDATE outbox_messages SET next_attempt_at = ? WHERE id IN ?`, until, ids).Error; err != nil {
			return nil, fmt.Errorf("defer messages of a blocked account: %w", err)
		}
	}
	return deferred, nil
}

// claimRows takes budget for and leases the due rows in order, for Claim.
func (s *Outbox) claimRows(ctx context.Context, tx *gorm.DB, rows []outboxRow, req outbox.ClaimRequest, now, lease time.Time,
	outOfBudget map[string]bool, leased *[]int64, budgets *budgetLedger, flush func() error, out *outbox.Claim) error {
	for _, row := range rows {
		if outOfBudget[row.MerchantID] {
			continue
		}
		account := outbox.AccountBudgetKey(row.MerchantID)
		m, err := row.message()
		if err != nil {
			return err
		}
		if m.Group != "" && m.Collapse != nil {
			if err := flush(); err != nil {
				return err
			}
			c, err := s.collapse(ctx, tx, row, m, req, budgets, now)
			if err != nil {
				return err
			}
			if c != nil {
				// End the pass here: a pass that inserted a key takes
				// no further lock, so it cannot deadlock with a pass
				// waiting to insert the same key.
				out.Collapsed = append(out.Collapsed, *c)
				return nil
			}
		}
		ok, err := budgets.take(outbox.AppBudgetKey, req.Budget.PerApp)
		if err != nil {
			return err
		}
		if !ok {
			return nil // the app is out of budget: nothing more this window
		}
		ok, err = budgets.take(account, req.Budget.PerAccount)
		if err != nil {
			return err
		}
		if !ok {
			budgets.refund(outbox.AppBudgetKey)
			outOfBudget[row.MerchantID] = true
			continue
		}
		*leased = append(*leased, row.ID)
		out.Messages = append(out.Messages, outbox.Claimed{
			Message:    m,
			ID:         row.ID,
			Claim:      row.Claims + 1,
			Attempts:   row.Attempts,
			CreatedAt:  row.CreatedAt.UTC(),
			LeaseUntil: lease,
			// Still "sending" when claimed again: the last sender's lease
			// ran out with no outcome recorded, so X may have it.
			Lapsed: row.Status == string(outbox.StatusSending),
		})
	}
	return nil
}

// dueIndexHint is a condition that repeats what a query's status test
// says, on SQLite, so that its planner uses the partial index
// outbox_messages_due (it cannot infer it from an OR of statuses, or from
// a single status): without it a query read the whole outbox, sent history
// included. PostgreSQL's planner needs no hint, and measured slower with
// it.
func (s *Outbox) dueIndexHint(alias string) string {
	if s.db.driver != DriverSQLite {
		return ""
	}
	return alias + "status IN ('pending', 'sending') AND "
}

// expire gives up unsent messages created at or before tooOld. Messages
// are numbered in the order they are enqueued, so within a priority the
// oldest come first in outbox_messages_due: the walk of each priority
// stops at the first message young enough to keep, and reads only the old
// ones and that one. (It read every waiting message once a second: 1.3 ms
// a pass at 5,000.) Messages whose link has expired are given up when a
// claim meets them (expireLinks).
func (s *Outbox) expire(tx *gorm.DB, now, tooOld time.Time) ([]outbox.Expired, error) {
	var priorities []int
	if err := tx.Raw(waitingPrioritiesSQL).Scan(&priorities).Error; err != nil {
		return nil, fmt.Errorf("select waiting priorities: %w", err)
	}
	var old []outboxRow
	for _, p := range priorities {
		for afterID := int64(0); len(old) < expireLimit; {
			var rows []outboxRow
			if err := tx.Raw(oldestWaitingSQL, p, afterID, expireStep).Scan(&rows).Error; err != nil {
				return nil, fmt.Errorf("select expired: %w", err)
			}
			young := false
			for _, r := range rows {
				if r.CreatedAt.After(tooOld) {
					young = true
					break
				}
				if r.Status == string(outbox.StatusSending) && r.LeaseUntil != nil && r.LeaseUntil.After(now) {
					continue // being sent now
				}
				old = append(old, r)
			}
			if young || len(rows) < expireStep {
				break
			}
			afterID = rows[len(rows)-1].ID
		}
	}
	return s.giveUp(tx, old[:min(len(old), expireLimit)], now, false)
}

// expireStep is how many messages the expiry reads at a time.
const expireStep = 16

const (
	// waitingPrioritiesSQL lists the priorities of waiting messages, lowest
	// first: a walk down outbox_messages_due, one step a priority. (ORDER
	// BY and LIMIT rather than MIN: PostgreSQL's plan for MIN can read the
	// whole index while the table looks small.)
	waitingPrioritiesSQL = `WITH RECURSIVE p(v) AS (
	SELECT (SELECT priority FROM outbox_messages WHERE status IN ('pending', 'sending') ORDER BY priority LIMIT 1)
	UNION ALL
	SELECT (SELECT priority FROM outbox_messages WHERE status IN ('pending', 'sending') AND priority > p.v ORDER BY priority LIMIT 1) FROM p WHERE p.v IS NOT NULL
) SELECT v FROM p WHERE v IS NOT NULL`
	// oldestWaitingSQL reads a priority's waiting messages in enqueue
	// order. Arguments: priority, the last id read, a limit.
	oldestWaitingSQL = `SELECT * FROM outbox_messages WHERE status IN ('pending', 'sending') AND priority = ? AND id > ? ORDER BY id LIMIT ?`
)

// expireLinks gives up those of rows whose link has expired (a message is
// refused at send time then anyway) and returns the others.
func (s *Outbox) expireLinks(tx *gorm.DB, rows []outboxRow, now time.Time) ([]outboxRow, []outbox.Expired, error) {
	linkExpired := func(r outboxRow) bool { return r.LinkExpiresAt != nil && !r.LinkExpiresAt.After(now) }
	if !slices.ContainsFunc(rows, linkExpired) {
		return rows, nil, nil // the usual pass: nothing copied
	}
	var expired, keep []outboxRow
	for _, r := range rows {
		if linkExpired(r) {
			expired = append(expired, r)
		} else {
			keep = append(keep, r)
		}
	}
	out, err := s.giveUp(tx, expired, now, true)
	return keep, out, err
}

// giveUp marks rows expired, for their link or for their age, and returns
// those it marked.
func (s *Outbox) giveUp(tx *gorm.DB, rows []outboxRow, now time.Time, linkExpired bool) ([]outbox.Expired, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	reason := "too old"
	if linkExpired {
		reason = "link expired"
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	// Rows read without a lock: only those still unsent are given up (a
	// sender may have finished one meanwhile).
	var marked []int64
	err := tx.Raw(`UPDATE outbox_messages SET status = 'expired', lease_until = NULL, finished_at = ?, last_error = ?
WHERE id IN ? AND (status = 'pending' OR (status = 'sending' AND lease_until <= ?)) RETURNING id`,
		now, reason, ids, now).Scan(&marked).Error
	if err != nil {
		return nil, fmt.Errorf("expire: %w", err)
	}
	done := make(map[int64]bool, len(marked))
	for _, id := range marked {
		done[id] = true
	}
	var out []outbox.Expired
	for _, r := range rows {
		if done[r.ID] {
			out = append(out, outbox.Expired{Key: r.MsgKey, MerchantID: r.MerchantID, Kind: outbox.Kind(r.Kind),
				CreatedAt: r.CreatedAt.UTC(), LinkExpired: linkExpired})
		}
	}
	return out, nil
}

// ensureBudget creates the budget row of key if it does not exist yet.
func (s *Outbox) ensureBudget(tx *gorm.DB, key string, now time.Time) error {
	err := tx.Exec(`INSERT INTO outbox_budgets (budget_key, window_start, used) VALUES (?, ?, 0) ON CONFLICT (budget_key) DO NOTHING`,
		key, now).Error
	if err != nil {
		return fmt.Errorf("create budget %q: %w", key, err)
	}
	return nil
}

// budgetLedger takes the units of one claim from the rate budgets in
// memory and writes each budget touched back once (flush), instead of one
// UPDATE per budget and message (two statements a message on SQLite's one
// writer). The claim's transaction keeps the rows from every other sender
// meanwhile: SQLite has one writer, and on PostgreSQL the rows are read
// FOR UPDATE (the app's budget first, as every claim does, so claims do
// not deadlock).
type budgetLedger struct {
	s           *Outbox
	tx          *gorm.DB
	now, cutoff time.Time
	keys        map[string]*budgetState
}

type budgetState struct {
	WindowStart  time.Time
	Used         int
	BlockedUntil *time.Time
	dirty        bool
}

func (l *budgetLedger) load(key string) (*budgetState, error) {
	if b, ok := l.keys[key]; ok {
		return b, nil
	}
	var rows []budgetState
	read := func() error {
		return l.tx.Raw("SELECT window_start, used, blocked_until FROM outbox_budgets WHERE budget_key = ?"+l.s.db.forUpdateWait(), key).
			Scan(&rows).Error
	}
	if err := read(); err != nil {
		return nil, fmt.Errorf("read budget %q: %w", key, err)
	}
	if len(rows) == 0 {
		// A budget's first use: create its row (another sender may be
		// doing the same) and read it locked.
		if err := l.s.ensureBudget(l.tx, key, l.now); err != nil {
			return nil, err
		}
		if err := read(); err != nil {
			return nil, fmt.Errorf("read budget %q: %w", key, err)
		}
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("read budget %q: no such budget", key)
	}
	b := &rows[0]
	l.keys[key] = b
	return b, nil
}

// take takes one unit of key's budget; it reports false, changing
// nothing, when the key is blocked by a 429 or its window is used up. A
// window that started at or before the cutoff is over, and the unit starts
// a new one.
func (l *budgetLedger) take(key string, limit int) (bool, error) {
	if _, blocked, err := l.blockedUntil(key, limit); err != nil || blocked {
		return false, err
	}
	b := l.keys[key] // loaded by blockedUntil
	if !b.WindowStart.After(l.cutoff) {
		b.WindowStart, b.Used = l.now, 0
	}
	b.Used++
	b.dirty = true
	return true, nil
}

// blockedUntil reports whether key can send nothing now, blocked by a 429
// or with its window's budget (limit units a window) used up, and until
// when.
func (l *budgetLedger) blockedUntil(key string, limit int) (time.Time, bool, error) {
	b, err := l.load(key)
	if err != nil {
		return time.Time{}, false, err
	}
	var until time.Time
	if b.BlockedUntil != nil && b.BlockedUntil.After(l.now) {
		until = b.BlockedUntil.UTC()
	}
	if b.WindowStart.After(l.cutoff) && b.Used >= limit {
		until = later(until, b.WindowStart.Add(l.now.Sub(l.cutoff)).UTC()) // the cutoff is a window before now
	}
	return until, !until.IsZero(), nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// remaining returns how many units key has left in its current window,
// counting those this claim took.
func (l *budgetLedger) remaining(key string, limit int) (int, error) {
	b, err := l.load(key)
	if err != nil {
		return 0, err
	}
	if !b.WindowStart.After(l.cutoff) {
		return limit, nil
	}
	return max(limit-b.Used, 0), nil
}

// refund gives back a unit taken in this claim.
func (l *budgetLedger) refund(key string) {
	if b, ok := l.keys[key]; ok && b.Used > 0 {
		b.Used--
		b.dirty = true
	}
}

// flush writes the budgets changed since the last flush.
func (l *budgetLedger) flush() error {
	for key, b := range l.keys {
		if !b.dirty {
			continue
		}
		err := l.tx.Exec("UPDATE outbox_budgets SET used = ?, window_start = ? WHERE budget_key = ?", b.Used, b.WindowStart.UTC(), key).Error
		if err != nil {
			return fmt.Errorf("take budget %q: %w", key, err)
		}
		b.dirty = false
	}
	return nil
}

// collapse replaces row's group by its Collapse post when the group was
// collapsed before or the account cannot answer every pending member in
// this window; it returns nil when the group stays.
func (s *Outbox) collapse(ctx context.Context, tx *gorm.DB, row outboxRow, m outbox.Message, req outbox.ClaimRequest,
	budgets *budgetLedger, now time.Time) (*outbox.Collapsed, error) {
	var counts struct {
		Pending, Collapsed int64
	}
	err := tx.Raw(groupCountsSQL, row.ID, row.Grp).Scan(&counts).Error
	if err != nil {
		return nil, fmt.Errorf("count group %q: %w", row.Grp, err)
	}
	if counts.Collapsed == 0 {
		var ahead int64
		// The account's pending messages that come first (checkout links)
		// keep their share of the budget, and so do the follow-ups that
		// messages not yet sent will enqueue when they are (the public
		// "check your DMs" reply of a checkout DM): without them, a group
		// answered one by one while small could spend the budget those
		// follow-ups need.
		err := tx.Raw(`SELECT
	(SELECT COUNT(*) + COALESCE(SUM(CASE WHEN on_sent <> '' THEN 1 ELSE 0 END), 0) FROM outbox_messages
		WHERE merchant_id = ? AND status = 'pending' AND priority < ? AND grp <> ?)
	+ (SELECT COUNT(*) FROM outbox_messages WHERE `+s.dueIndexHint("")+`merchant_id = ? AND status = 'sending' AND on_sent <> '')`,
			row.MerchantID, row.Priority, row.Grp, row.MerchantID).Scan(&ahead).Error
		if err != nil {
			return nil, fmt.Errorf("count ahead of group %q: %w", row.Grp, err)
		}
		// The app's budget first, as every claim takes them (PostgreSQL
		// locks them in that order).
		app, err := budgets.remaining(outbox.AppBudgetKey, req.Budget.PerApp)
		if err != nil {
			return nil, err
		}
		acct, err := budgets.remaining(outbox.AccountBudgetKey(row.MerchantID), req.Budget.PerAccount)
		if err != nil {
			return nil, err
		}
		// Answered one by one, the group leaves one unit unspent: should
		// more members come after the budget ran short, the post that
		// collapses them needs it (taking it from a follow-up counted
		// ahead left that follow-up unsent for the window).
		if counts.Pending < int64(min(acct, app))-ahead {
			return nil, nil
		}
	}
	var ids []int64
	err = tx.Raw(groupMembersSQL+s.db.forUpdate(),
		row.Grp, row.ID).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("select group %q: %w", row.Grp, err)
	}
	err = tx.Exec(`UPDATE outbox_messages SET status = 'collapsed', lease_until = NULL, finished_at = ? WHERE id IN ?`, now, ids).Error
	if err != nil {
		return nil, fmt.Errorf("collapse group %q: %w", row.Grp, err)
	}
	if err := s.Enqueue(ctx, *m.Collapse); err != nil {
		return nil, err
	}
	return &outbox.Collapsed{Group: row.Grp, MerchantID: row.MerchantID, Messages: len(ids), PostKey: m.Collapse.Key}, nil
}

var _ outbox.DeferredRequeuer = (*Outbox)(nil)

// RequeueDeferred implements outbox.DeferredRequeuer. Only a claim pass
// (deferBlocked) and a send that found its account blocked by a 429 move
// a message never attempted into the future, so those are the messages it
// makes due; the first pass after it defers again those whose account is
// still out of budget or blocked.
func (s *Outbox) RequeueDeferred(ctx context.Context, now time.Time) (int64, error) {
	now = now.UTC()
	res := s.db.write(ctx).Exec(`UPDATE outbox_messages SET next_attempt_at = ? WHERE status = 'pending' AND attempts = 0 AND next_attempt_at > ?`, now, now)
	if res.Error != nil {
		return 0, fmt.Errorf("requeue deferred outbox messages: %w", res.Error)
	}
	if res.RowsAffected > 0 {
		s.db.noteEnqueued(ctx, OutboxWork)
	}
	return res.RowsAffected, nil
}

// Finish implements outbox.Store.
func (s *Outbox) Finish(ctx context.Context, r outbox.Result) (bool, error) {
	applied := false
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tx := s.db.write(ctx)
		now := r.Now.UTC()
		exec := func(q string, args ...any) error {
			res := tx.Exec(q, args...)
			applied = res.RowsAffected == 1
			return res.Error
		}
		var err error
		switch r.Outcome {
		case outbox.OutcomeSent:
			var ok []bool
			if ok, err = s.markSent(tx, now, []outbox.Result{r}); err == nil {
				applied = ok[0]
			}
		case outbox.OutcomeRetry, outbox.OutcomeRateLimited, outbox.OutcomeReleased:
			failed := 0
			if r.Outcome == outbox.OutcomeRetry {
				failed = 1
			}
			err = exec(`UPDATE outbox_messages SET status = 'pending', attempts = attempts + ?, next_attempt_at = ?, lease_until = NULL,
last_error = CASE WHEN ? = '' THEN last_error ELSE ? END
WHERE id = ? AND status = 'sending' AND claims = ?`, failed, r.Next.UTC(), r.Error, r.Error, r.ID, r.Claim)
		case outbox.OutcomeFailed, outbox.OutcomeUndeliverable, outbox.OutcomeExpired:
			status := map[outbox.Outcome]outbox.Status{
				outbox.OutcomeFailed:        outbox.StatusFailed,
				outbox.OutcomeUndeliverable: outbox.StatusUndeliverable,
				outbox.OutcomeExpired:       outbox.StatusExpired,
			}[r.Outcome]
			err = exec(`UPDATE outbox_messages SET status = ?, attempts = attempts + 1, lease_until = NULL, finished_at = ?, last_error = ?
WHERE id = ? AND status = 'sending' AND claims = ?`, string(status), now, r.Error, r.ID, r.Claim)
		default:
			return fmt.Errorf("unknown outcome %q", r.Outcome)
		}
		if err != nil {
			return err
		}
		if r.Block != "" {
			// Blocked even if the lease was lost: X said so for the account.
			err := tx.Exec(`INSERT INTO outbox_budgets (budget_key, window_start, used, blocked_until) VALUES (?, ?, 0, ?)
ON CONFLICT (budget_key) DO UPDATE SET blocked_until = CASE
	WHEN outbox_budgets.blocked_until IS NULL OR outbox_budgets.blocked_until < excluded.blocked_until THEN excluded.blocked_until
	ELSE outbox_budgets.blocked_until END`, r.Block, now, r.Next.UTC()).Error
			if err != nil {
				return fmt.Errorf("block %q: %w", r.Block, err)
			}
		}
		if applied && r.Then != nil {
			return s.Enqueue(ctx, *r.Then)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("finish outbox message %d (%s): %w", r.ID, r.Outcome, err)
	}
	return applied, nil
}

var _ outbox.SentRecorder = (*Outbox)(nil)

// FinishSent implements outbox.SentRecorder: the sends in one UPDATE
// (markSent) and their follow-ups in one INSERT (a statement each was a
// round trip per message on PostgreSQL). The messages are marked finished
// at the first result's Now (a pass prepares its results together).
func (s *Outbox) FinishSent(ctx context.Context, results []outbox.Result) ([]bool, error) {
	if len(results) == 0 {
		return nil, nil
	}
	var applied []bool
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		for _, r := range results {
			if r.Outcome != outbox.OutcomeSent || r.Block != "" {
				return fmt.Errorf("finish sent: message %d: outcome %s blocking %q: use Finish", r.ID, r.Outcome, r.Block)
			}
		}
		var err error
		if applied, err = s.markSent(s.db.write(ctx), results[0].Now.UTC(), results); err != nil {
			return err
		}
		var then []outbox.Message
		for i, r := range results {
			if applied[i] && r.Then != nil {
				then = append(then, *r.Then)
			}
		}
		return s.Enqueue(ctx, then...)
	})
	if err != nil {
		return nil, fmt.Errorf("record %d sent outbox messages: %w", len(results), err)
	}
	return applied, nil
}

// markSent marks the results' messages sent with their X ids, one UPDATE
// ... FROM (VALUES ...) for up to 200. A send is recorded even when its
// lease was lost (X has it); applied[i] is false only when results[i]'s
// message was no longer sending or pending (already sent, or given up).
func (s *Outbox) markSent(tx *gorm.DB, now time.Time, results []outbox.Result) ([]bool, error) {
	applied := make([]bool, len(results))
	for start := 0; start < len(results); start += 200 {
		part := results[start:min(start+200, len(results))]
		var sb strings.Builder
		sb.WriteString(`UPDATE outbox_messages SET status = 'sent', x_id = v.column2, lease_until = NULL, finished_at = ?, last_error = ''
FROM (VALUES `)
		args := make([]any, 0, 1+2*len(part))
		args = append(args, now)
		for i, r := range part {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(CAST(? AS BIGINT), CAST(? AS TEXT))")
			args = append(args, r.ID, r.XID)
		}
		sb.WriteString(`) AS v
WHERE outbox_messages.id = v.column1 AND outbox_messages.status IN ('sending', 'pending')
RETURNING outbox_messages.id`)
		var ids []int64
		if err := tx.Raw(sb.String(), args...).Scan(&ids).Error; err != nil {
			return nil, err
		}
		done := make(map[int64]bool, len(ids))
		for _, id := range ids {
			done[id] = true
		}
		for i, r := range part {
			applied[start+i] = done[r.ID]
		}
	}
	return applied, nil
}

var _ outbox.SentLookup = (*Outbox)(nil)

// RecordedXIDs implements outbox.SentLookup.
func (s *Outbox) RecordedXIDs(ctx context.Context, xids []string) (map[string]bool, error) {
	var found []string
	if err := s.db.read(ctx).Raw(`SELECT x_id FROM outbox_messages WHERE x_id <> '' AND x_id IN ?`, xids).Scan(&found).Error; err != nil {
		return nil, fmt.Errorf("look up sent x ids: %w", err)
	}
	out := make(map[string]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

// BlockedUntil implements outbox.Store.
func (s *Outbox) BlockedUntil(ctx context.Context, budgetKey string) (time.Time, error) {
	var rows []struct{ BlockedUntil *time.Time }
	err := s.db.read(ctx).Raw("SELECT blocked_until FROM outbox_budgets WHERE budget_key = ?", budgetKey).Scan(&rows).Error
	if err != nil {
		return time.Time{}, fmt.Errorf("read budget %q: %w", budgetKey, err)
	}
	if len(rows) == 0 || rows[0].BlockedUntil == nil {
		return time.Time{}, nil
	}
	return rows[0].BlockedUntil.UTC(), nil
}

// OutboxMessage is a stored message as operators and tests see it.
type OutboxMessage struct {
	outbox.Message
	Status    outbox.Status
	Attempts  int
	XID       string
	LastError string
	// Body is the stored text: with LinkPlaceholder, never a minted link.
	Body string
}

// Get returns the stored message with key, and false when there is none.
func (s *Outbox) Get(ctx context.Context, key string) (OutboxMessage, bool, error) {
	var rows []outboxRow
	if err := s.db.read(ctx).Raw("SELECT * FROM outbox_messages WHERE msg_key = ?", key).Scan(&rows).Error; err != nil {
		return OutboxMessage{}, false, fmt.Errorf("read outbox message %q: %w", key, err)
	}
	if len(rows) == 0 {
		return OutboxMessage{}, false, nil
	}
	r := rows[0]
	m, err := r.message()
	if err != nil {
		return OutboxMessage{}, false, err
	}
	return OutboxMessage{Message: m, Status: outbox.Status(r.Status), Attempts: r.Attempts, XID: r.XID, LastError: r.LastError, Body: r.Body}, true, nil
}

// Counts returns how many messages are in each status.
func (s *Outbox) Counts(ctx context.Context) (map[outbox.Status]int, error) {
	var rows []struct {
		Status string
		N      int
	}
	if err := s.db.read(ctx).Raw(`SELECT status, COUNT(*) AS n FROM outbox_messages GROUP BY status`).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count outbox: %w", err)
	}
	out := map[outbox.Status]int{}
	for _, r := range rows {
		out[outbox.Status(r.Status)] = r.N
	}
	return out, nil
}

// InTx implements outbox.Store.
func (s *Outbox) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.InTx(ctx, fn)
}
