package inventory

import (
	"context"
	"database/sql"
	"fmt"
)

// Tally is what the ledger counted since a sequence number: cards used up
// by printer, and spoiled blanks by printer and reason code. Metrics keep a
// running sum from it; the ledger is append-only, so adding the tally of
// the events after the last one seen is exact.
type Tally struct {
	Consumed map[string]int64            // printer → cards printed (consumed)
	Spoiled  map[string]map[string]int64 // printer → reason → spoiled blanks
	Next     int64                       // the seq to tally from next time
}

// TallySince counts the consumed and spoiled events with seq ≥ from.
func (l *Ledger) TallySince(ctx context.Context, from int64) (Tally, error) {
	t := Tally{Consumed: map[string]int64{}, Spoiled: map[string]map[string]int64{}, Next: from}
	rows, err := l.db.QueryContext(ctx, `SELECT seq, kind, printer, CASE WHEN kind = ? THEN coalesce(json_extract(data, '$.reason'), '') ELSE '' END
		FROM ledger_events WHERE seq >= ? AND kind IN (?, ?) ORDER BY seq`, string(Spoiled), from, string(Consumed), string(Spoiled))
	if err != nil {
		return t, fmt.Errorf("inventory: tally: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var kind, printer, reason string
		if err := rows.Scan(&seq, &kind, &printer, &reason); err != nil {
			return t, fmt.Errorf("inventory: tally: %w", err)
		}
		if Kind(kind) == Consumed {
			t.Consumed[printer]++
		} else {
			if t.Spoiled[printer] == nil {
				t.Spoiled[printer] = map[string]int64{}
			}
			t.Spoiled[printer][reason]++
		}
		t.Next = seq + 1
	}
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("inventory: tally: %w", err)
	}
	// Later events of other kinds need no second look either.
	var last sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT max(seq) FROM ledger_events`).Scan(&last); err != nil {
		return t, fmt.Errorf("inventory: tally: %w", err)
	}
	if last.Valid && last.Int64+1 > t.Next {
		t.Next = last.Int64 + 1
	}
	return t, nil
}

// Uncosigned is how many ledger events the centre has not yet cosigned: the
// ledger's size minus the size of the newest checkpoint it cosigned. A lag
// that only grows means the centre stopped witnessing this station.
func (l *Ledger) Uncosigned(ctx context.Context) (int64, error) {
	var n, cosigned int64
	err := l.db.QueryRowContext(ctx, `SELECT (SELECT coalesce(max(seq)+1, 0) FROM ledger_events), (SELECT coalesce(max(size), 0) FROM ledger_cosigned)`).Scan(&n, &cosigned)
	if err != nil {
		return 0, fmt.Errorf("inventory: cosigned size: %w", err)
	}
	return max(n-cosigned, 0), nil
}
