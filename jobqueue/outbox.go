package jobqueue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"printstation/storage"
)

// Outbox item kinds.
const (
	KindOutcome    = "outcome"
	KindCheckpoint = "checkpoint"
	KindStock      = "stock"
	// KindBlankRequest is a request for more blanks; the centre answers
	// with its reference.
	KindBlankRequest = "blank_request"
)

// OutcomeItem is one job outcome as the centre receives it.
type OutcomeItem struct {
	Key     string    `json:"key"`
	JobID   string    `json:"job_id"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	Printer string    `json:"printer,omitempty"`
	UID     string    `json:"uid,omitempty"`
	At      time.Time `json:"at"`
}

// Outbox holds reports for the centre until it acknowledges them. An item is
// written in the same transaction as the change it reports, and retried with
// the same idempotency key until acknowledged: every item arrives once in
// effect, whatever crashes or outages happen in between.
type Outbox struct {
	db   *sql.DB
	now  func() time.Time
	wake chan struct{}
}

// Enqueue adds an item in the caller's transaction. A key already present is
// ignored (the item was already enqueued).
func (o *Outbox) Enqueue(ctx context.Context, ex storage.Execer, kind, key string, body []byte) error {
	switch kind {
	case KindOutcome, KindCheckpoint, KindStock, KindBlankRequest:
	default:
		return fmt.Errorf("outbox: unknown kind %q (want outcome, checkpoint, stock or blank_request)", kind)
	}
	if key == "" {
		return errors.New("outbox: empty idempotency key")
	}
	if _, err := ex.ExecContext(ctx, `INSERT INTO outbox_items(kind, key, body, created_at) VALUES(?,?,?,?) ON CONFLICT(key) DO NOTHING`,
		kind, key, body, ts(o.now())); err != nil {
		return fmt.Errorf("outbox: enqueue %s %s: %w", kind, key, err)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Item is one pending outbox item.
type Item struct {
	Seq      int64
	Kind     string
	Key      string
	Body     []byte
	Attempts int
}

// OutboxStats counts items.
type OutboxStats struct {
	Pending, Acked int
}

// Stats counts pending and acknowledged items.
func (o *Outbox) Stats(ctx context.Context) (OutboxStats, error) {
	var s OutboxStats
	err := o.db.QueryRowContext(ctx, `SELECT coalesce(sum(acked_at IS NULL), 0), coalesce(sum(acked_at IS NOT NULL), 0) FROM outbox_items`).Scan(&s.Pending, &s.Acked)
	return s, err
}

// Acked reports whether the centre acknowledged the item with key.
func (o *Outbox) Acked(ctx context.Context, key string) (bool, error) {
	var a sql.NullString
	err := o.db.QueryRowContext(ctx, `SELECT acked_at FROM outbox_items WHERE key = ?`, key).Scan(&a)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("outbox: no item %s", key)
	}
	return a.Valid, err
}

// nextOutcomeBatch returns the outcomes to send next and the idempotency key
// of their request. A batch, once formed, is resent unchanged under the same
// key until acknowledged; only then is a new one formed.
func (o *Outbox) nextOutcomeBatch(ctx context.Context, max int) (string, []Item, error) {
	var batchKey string
	var items []Item
	err := storage.InTx(ctx, o.db, func(tx *sql.Tx) error {
		batchKey, items = "", nil
		var bk sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT batch_key FROM outbox_items WHERE kind = ? AND acked_at IS NULL AND batch_key IS NOT NULL ORDER BY seq LIMIT 1`, KindOutcome).Scan(&bk)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if bk.Valid {
			batchKey = bk.String
		} else {
			var first, last sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT min(seq), max(seq) FROM (SELECT seq FROM outbox_items WHERE kind = ? AND acked_at IS NULL ORDER BY seq LIMIT ?)`, KindOutcome, max).Scan(&first, &last); err != nil {
				return err
			}
			if !first.Valid {
				return nil
			}
			batchKey = fmt.Sprintf("outcomes-%d-%d", first.Int64, last.Int64)
			if _, err := tx.ExecContext(ctx, `UPDATE outbox_items SET batch_key = ? WHERE kind = ? AND acked_at IS NULL AND seq BETWEEN ? AND ?`, batchKey, KindOutcome, first.Int64, last.Int64); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT seq, kind, key, body, attempts FROM outbox_items WHERE batch_key = ? AND acked_at IS NULL ORDER BY seq`, batchKey)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var it Item
			if err := rows.Scan(&it.Seq, &it.Kind, &it.Key, &it.Body, &it.Attempts); err != nil {
				return err
			}
			items = append(items, it)
		}
		return rows.Err()
	})
	if err != nil {
		return "", nil, fmt.Errorf("outbox: next outcome batch: %w", err)
	}
	return batchKey, items, nil
}

// next returns the oldest pending item of a kind that is sent one by one.
func (o *Outbox) next(ctx context.Context, kind string) (*Item, error) {
	var it Item
	err := o.db.QueryRowContext(ctx, `SELECT seq, kind, key, body, attempts FROM outbox_items WHERE kind = ? AND acked_at IS NULL ORDER BY seq LIMIT 1`, kind).
		Scan(&it.Seq, &it.Kind, &it.Key, &it.Body, &it.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: next %s: %w", kind, err)
	}
	return &it, nil
}

// ack marks items acknowledged.
func (o *Outbox) ack(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	args := []any{ts(o.now())}
	for _, k := range keys {
		args = append(args, k)
	}
	_, err := o.db.ExecContext(ctx, `UPDATE outbox_items SET acked_at = ? WHERE acked_at IS NULL AND key IN (`+strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",")+`)`, args...)
	if err != nil {
		return fmt.Errorf("outbox: mark acknowledged: %w", err)
	}
	return nil
}

// answered marks an item acknowledged together with the centre's answer:
// its reference, or (refused non-empty) its reason for refusing the item
// for good. Both in one transaction: an acknowledged item always has its
// answer.
func (o *Outbox) answered(ctx context.Context, key, ref, refused string) error {
	err := storage.InTx(ctx, o.db, func(tx *sql.Tx) error {
		now := ts(o.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_answers(key, ref, refused, at) VALUES(?,?,?,?)
			ON CONFLICT(key) DO UPDATE SET ref = excluded.ref, refused = excluded.refused, at = excluded.at`, key, ref, refused, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE outbox_items SET acked_at = ? WHERE acked_at IS NULL AND key = ?`, now, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: record the centre's answer to %s: %w", key, err)
	}
	return nil
}

// unbatch releases items the centre did not accept, so that they go out in a
// later batch (the centre deduplicates items by their own key).
func (o *Outbox) unbatch(ctx context.Context, batchKey string) error {
	_, err := o.db.ExecContext(ctx, `UPDATE outbox_items SET batch_key = NULL WHERE batch_key = ? AND acked_at IS NULL`, batchKey)
	return err
}

// failed counts an attempt and remembers the error (no personal data: it is
// a transport or status error).
func (o *Outbox) failed(ctx context.Context, keys []string, cause error) {
	msg := cause.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	for _, k := range keys {
		o.db.ExecContext(ctx, `UPDATE outbox_items SET attempts = attempts + 1, last_error = ? WHERE key = ?`, msg, k)
	}
}

func decodeOutcomes(items []Item) ([]OutcomeItem, error) {
	out := make([]OutcomeItem, 0, len(items))
	for _, it := range items {
		var oi OutcomeItem
		if err := json.Unmarshal(it.Body, &oi); err != nil {
			return nil, fmt.Errorf("outbox: item %s is not an outcome: %w", it.Key, err)
		}
		oi.Key = it.Key // the outbox key is the item's identity
		out = append(out, oi)
	}
	return out, nil
}
