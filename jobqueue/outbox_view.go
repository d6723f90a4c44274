package jobqueue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PendingItem is an outbox item the centre has not acknowledged yet, as
// `printstationctl outbox` shows it: no body (an outcome names a chip UID).
type PendingItem struct {
	Kind      string    `json:"kind"`
	Key       string    `json:"key"`
	CreatedAt time.Time `json:"created_at"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
}

// Pending lists up to limit unacknowledged items, oldest first, and how
// many there are in all.
func (o *Outbox) Pending(ctx context.Context, limit int) ([]PendingItem, int, error) {
	var total int
	if err := o.db.QueryRowContext(ctx, `SELECT count(*) FROM outbox_items WHERE acked_at IS NULL`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("outbox: count pending: %w", err)
	}
	rows, err := o.db.QueryContext(ctx, `SELECT kind, key, created_at, attempts, last_error FROM outbox_items
		WHERE acked_at IS NULL ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("outbox: list pending: %w", err)
	}
	defer rows.Close()
	out := []PendingItem{}
	for rows.Next() {
		var it PendingItem
		var created sql.NullString
		if err := rows.Scan(&it.Kind, &it.Key, &created, &it.Attempts, &it.LastError); err != nil {
			return nil, 0, fmt.Errorf("outbox: list pending: %w", err)
		}
		it.CreatedAt = parseTS(created)
		out = append(out, it)
	}
	return out, total, rows.Err()
}

// LastAcked is when the centre last acknowledged an item of kind; zero if
// never. Items are acknowledged roughly in the order they were queued, so
// the newest few acknowledged items hold the latest time (the column is
// text with a variable-width fraction: max() over it would not sort times).
func (o *Outbox) LastAcked(ctx context.Context, kind string) (time.Time, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT acked_at FROM outbox_items WHERE kind = ? AND acked_at IS NOT NULL ORDER BY seq DESC LIMIT 100`, kind)
	if err != nil {
		return time.Time{}, fmt.Errorf("outbox: last acknowledgement: %w", err)
	}
	defer rows.Close()
	var last time.Time
	for rows.Next() {
		var at sql.NullString
		if err := rows.Scan(&at); err != nil {
			return time.Time{}, fmt.Errorf("outbox: last acknowledgement: %w", err)
		}
		if t := parseTS(at); t.After(last) {
			last = t
		}
	}
	return last, rows.Err()
}

// Report is one report of a kind that the centre answers (stock reports,
// requests for blanks) and what became of it.
type Report struct {
	Kind      string
	Key       string
	Body      []byte
	CreatedAt time.Time
	Attempts  int
	LastError string // the last failed try's transport or status error
	// AckedAt is when the centre acknowledged it (zero: not yet); Ref is
	// the centre's reference, Refused its reason when it refused the
	// report for good.
	AckedAt time.Time
	Ref     string
	Refused string
}

// Reports lists the newest reports of kind, newest first, at most limit,
// acknowledged or not.
func (o *Outbox) Reports(ctx context.Context, kind string, limit int) ([]Report, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT i.kind, i.key, i.body, i.created_at, i.attempts, i.last_error, i.acked_at, coalesce(a.ref, ''), coalesce(a.refused, '')
		FROM outbox_items i LEFT JOIN outbox_answers a ON a.key = i.key WHERE i.kind = ? ORDER BY i.seq DESC LIMIT ?`, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: list %s reports: %w", kind, err)
	}
	defer rows.Close()
	var out []Report
	for rows.Next() {
		var r Report
		var created, acked sql.NullString
		if err := rows.Scan(&r.Kind, &r.Key, &r.Body, &created, &r.Attempts, &r.LastError, &acked, &r.Ref, &r.Refused); err != nil {
			return nil, fmt.Errorf("outbox: list %s reports: %w", kind, err)
		}
		r.CreatedAt, r.AckedAt = parseTS(created), parseTS(acked)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Report returns the report with key, and false when there is none.
func (o *Outbox) Report(ctx context.Context, key string) (Report, bool, error) {
	var r Report
	var created, acked sql.NullString
	err := o.db.QueryRowContext(ctx, `SELECT i.kind, i.key, i.body, i.created_at, i.attempts, i.last_error, i.acked_at, coalesce(a.ref, ''), coalesce(a.refused, '')
		FROM outbox_items i LEFT JOIN outbox_answers a ON a.key = i.key WHERE i.key = ?`, key).
		Scan(&r.Kind, &r.Key, &r.Body, &created, &r.Attempts, &r.LastError, &acked, &r.Ref, &r.Refused)
	if errors.Is(err, sql.ErrNoRows) {
		return Report{}, false, nil
	}
	if err != nil {
		return Report{}, false, fmt.Errorf("outbox: report %s: %w", key, err)
	}
	r.CreatedAt, r.AckedAt = parseTS(created), parseTS(acked)
	return r, true, nil
}
