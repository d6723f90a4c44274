package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"printstation/storage"
)

// A period's summary is the difference of two running totals: everything
// the ledger counted from its first event up to the period's start, and up
// to its end. The ledger keeps the running totals at the end of each UTC
// day in ledger_days, written in the same transaction as each event, so a
// reconcile of a year reads two rows, replays at most a day of events at
// each end, and does not replay the year (issue 18). The table is a
// working copy like ledger_balance: verify recomputes every row from the
// events and names a row that differs; reconcile falls back to replaying
// every event when the table is missing, behind, or the events' times go
// backwards.

// totals are the running totals: Summarize's figures counted from the
// first event, with the replay state it needs (stock, counter readings).
type totals struct {
	LastSeq    int64  `json:"last_seq"`
	LastAt     string `json:"last_at"`
	Disordered bool   `json:"disordered,omitempty"` // an event's time went backwards: days cannot stand for periods
	Events     int64  `json:"events"`

	Balance         balances         `json:"balance"`
	Received        int64            `json:"received"`
	Consumed        int64            `json:"consumed"`
	TestCards       int64            `json:"test_cards"`
	Destroyed       int64            `json:"destroyed"`
	Adjusted        int64            `json:"adjusted"`
	Spoiled         map[string]int64 `json:"spoiled"`
	ShiftsClosed    int64            `json:"shifts_closed"`
	CounterReadings int64            `json:"counter_readings"`

	StorageReceived int64            `json:"storage_received"`
	StorageLoaded   int64            `json:"storage_loaded"`
	StorageUnloaded int64            `json:"storage_unloaded"`
	StorageAdjusted int64            `json:"storage_adjusted"`
	StorageSpoiled  map[string]int64 `json:"storage_spoiled"`

	Printers map[string]*printerTotals `json:"printers"`
	// Counters: per printer fed blanks since its last hardware counter
	// reading, and that reading.
	Counters map[string]*counterTotals `json:"counters"`
}

type printerTotals struct {
	Loaded    int64            `json:"loaded"`
	Unloaded  int64            `json:"unloaded"`
	Consumed  int64            `json:"consumed"`
	TestCards int64            `json:"test_cards"`
	Adjusted  int64            `json:"adjusted"`
	Fed       int64            `json:"fed"`
	Spoiled   map[string]int64 `json:"spoiled"`
	// Touched counts the events a period summary lists the printer for.
	Touched int64 `json:"touched"`
}

type counterTotals struct {
	Seq   int64 `json:"seq"`
	Value int64 `json:"value"`
	Fed   int64 `json:"fed"`
	OK    bool  `json:"ok"`
}

func newTotals() *totals {
	return &totals{LastSeq: -1, Balance: balances{}, Spoiled: map[string]int64{}, StorageSpoiled: map[string]int64{},
		Printers: map[string]*printerTotals{}, Counters: map[string]*counterTotals{}}
}

func (t *totals) printer(name string) *printerTotals {
	p := t.Printers[name]
	if p == nil {
		p = &printerTotals{Spoiled: map[string]int64{}}
		t.Printers[name] = p
	}
	return p
}

func (t *totals) counter(name string) *counterTotals {
	c := t.Counters[name]
	if c == nil {
		c = &counterTotals{}
		t.Counters[name] = c
	}
	return c
}

// apply adds one event, as Summarize's replay does for an event inside the
// period, and returns the discrepancies it shows (a shift close's counts,
// a counter reading, against the ledger at that moment). keys is the
// printer-name cache of balances.move (nil: none). A refusal means the
// event does not replay; nothing was added then.
func (t *totals) apply(seq int64, at string, e *Event, keys map[string]string) ([]Discrepancy, error) {
	var found []Discrepancy
	if e.Kind == ShiftClosed {
		for _, loc := range sortedKeys(e.Counted) {
			if have := t.Balance[loc]; have != e.Counted[loc] {
				found = append(found, Discrepancy{Seq: seq, Location: loc, Ledger: have, Counted: e.Counted[loc],
					What: fmt.Sprintf("shift close by %s: counted %d at %s, the ledger says %d", e.Actor, e.Counted[loc], describe(loc), have)})
			}
		}
	}
	if keys == nil || !t.Balance.move(e, keys) {
		if _, err := t.Balance.apply(*e); err != nil {
			return nil, err
		}
	}
	if at < t.LastAt {
		t.Disordered = true
	}
	t.LastSeq, t.LastAt = seq, at
	t.Events++
	if e.Kind == Consumed || e.Kind == TestCard || (e.Kind == Spoiled && e.Printer != "") {
		t.counter(e.Printer).Fed++
	}
	switch e.Kind {
	case Received:
		t.Received += e.Quantity
		t.StorageReceived += e.Quantity
	case Loaded:
		t.StorageLoaded += e.Quantity
		p := t.printer(e.Printer)
		p.Loaded += e.Quantity
		p.Touched++
	case Unloaded:
		t.StorageUnloaded += e.Quantity
		p := t.printer(e.Printer)
		p.Unloaded += e.Quantity
		p.Touched++
	case Consumed:
		t.Consumed++
		p := t.printer(e.Printer)
		p.Consumed++
		p.Fed++
		p.Touched++
	case TestCard:
		t.TestCards++
		p := t.printer(e.Printer)
		p.TestCards++
		p.Fed++
		p.Touched++
	case Spoiled:
		t.Spoiled[e.Reason]++
		if e.Printer == "" {
			t.StorageSpoiled[e.Reason]++
		} else {
			p := t.printer(e.Printer)
			p.Spoiled[e.Reason]++
			p.Fed++
			p.Touched++
		}
	case Destroyed:
		t.Destroyed += e.Quantity
	case Adjusted:
		t.Adjusted += e.Quantity
		if name, ok := parseLocation(e.Location); ok && name != "" {
			p := t.printer(name)
			p.Adjusted += e.Quantity
			p.Touched++
		} else {
			t.StorageAdjusted += e.Quantity
		}
	case ShiftClosed:
		t.ShiftsClosed++
	case CounterReading:
		t.CounterReadings++
		t.printer(e.Printer).Touched++
		c := t.counter(e.Printer)
		if c.OK && e.CardsInserted-c.Value != c.Fed {
			found = append(found, Discrepancy{Seq: seq, Location: InPrinter(e.Printer), Ledger: c.Fed, Counted: e.CardsInserted - c.Value,
				What: fmt.Sprintf("printer %s fed %d blanks by its counter between seq %d and %d, the ledger accounts for %d", e.Printer, e.CardsInserted-c.Value, c.Seq, seq, c.Fed)})
		}
		*c = counterTotals{Seq: seq, Value: e.CardsInserted, OK: true}
	}
	return found, nil
}

// periodOf is the summary of the events between two running totals.
func periodOf(station string, from, to time.Time, a, b *totals, found []Discrepancy) *Period {
	p := &Period{Station: station, From: from.UTC(), To: to.UTC(), Spoiled: diffCounts(a.Spoiled, b.Spoiled), Discrepancies: found}
	if p.Discrepancies == nil {
		p.Discrepancies = []Discrepancy{}
	}
	p.Events = b.Events - a.Events
	p.Received = b.Received - a.Received
	p.Consumed = b.Consumed - a.Consumed
	p.TestCards = b.TestCards - a.TestCards
	p.Destroyed = b.Destroyed - a.Destroyed
	p.Adjusted = b.Adjusted - a.Adjusted
	p.ShiftsClosed = int(b.ShiftsClosed - a.ShiftsClosed)
	p.CounterReadings = int(b.CounterReadings - a.CounterReadings)
	p.SpoiledOpening, p.SpoiledClosing = a.Balance[bSpoiled], b.Balance[bSpoiled]
	p.Storage = StoragePeriod{Opening: a.Balance[Storage], Received: b.StorageReceived - a.StorageReceived,
		Loaded: b.StorageLoaded - a.StorageLoaded, Unloaded: b.StorageUnloaded - a.StorageUnloaded,
		Spoiled: diffCounts(a.StorageSpoiled, b.StorageSpoiled), Adjusted: b.StorageAdjusted - a.StorageAdjusted, Closing: b.Balance[Storage]}
	names := map[string]bool{}
	for _, bal := range []balances{a.Balance, b.Balance} {
		for k := range bal {
			if name, ok := strings.CutPrefix(k, "printer:"); ok {
				names[name] = true
			}
		}
	}
	zero := &printerTotals{}
	for name, y := range b.Printers {
		x := a.Printers[name]
		if x == nil {
			x = zero
		}
		if y.Touched > x.Touched {
			names[name] = true
		}
	}
	for _, name := range sortedKeys(names) {
		x, y := a.Printers[name], b.Printers[name]
		if x == nil {
			x = zero
		}
		if y == nil {
			y = zero
		}
		pp := PrinterPeriod{Printer: name, Opening: a.Balance[InPrinter(name)], Loaded: y.Loaded - x.Loaded,
			Unloaded: y.Unloaded - x.Unloaded, Consumed: y.Consumed - x.Consumed, TestCards: y.TestCards - x.TestCards,
			Spoiled: diffCounts(x.Spoiled, y.Spoiled), Adjusted: y.Adjusted - x.Adjusted, Closing: b.Balance[InPrinter(name)],
			Fed: y.Fed - x.Fed}
		if c := b.Counters[name]; c != nil && c.OK {
			v := c.Value
			pp.CounterAtClose = &v
			pp.FedSinceReading = c.Fed
		}
		p.Printers = append(p.Printers, pp)
	}
	p.Closing = stockOf(b.Balance)
	p.Closing.Events = b.Events
	return p
}

// diffCounts is b − a for counts that only grow: the keys that grew.
func diffCounts(a, b map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range b {
		if v > a[k] {
			d[k] = v - a[k]
		}
	}
	return d
}

// dayRow is one row of ledger_days: the running totals after the last
// event of a UTC day, and the discrepancies that day's events showed.
type dayRow struct {
	FirstSeq, LastSeq int64
	Day               string
	State, Found      []byte
}

func encodeDay(first int64, t *totals, found []Discrepancy) (dayRow, error) {
	st, err := json.Marshal(t)
	if err != nil {
		return dayRow{}, fmt.Errorf("inventory: encode the day's totals: %w", err)
	}
	if found == nil {
		found = []Discrepancy{}
	}
	fd, err := json.Marshal(found)
	if err != nil {
		return dayRow{}, fmt.Errorf("inventory: encode the day's discrepancies: %w", err)
	}
	return dayRow{FirstSeq: first, LastSeq: t.LastSeq, Day: t.LastAt[:10], State: st, Found: fd}, nil
}

func decodeTotals(b []byte) (*totals, error) {
	t := newTotals()
	// json v2 reads it about three times faster than encoding/json; every
	// append reads the day's totals once.
	if err := jsonv2.Unmarshal(b, t); err != nil {
		return nil, fmt.Errorf("inventory: the running totals stored in ledger_days are unreadable: %w (run audit verify)", err)
	}
	return t, nil
}

// recordDay adds an appended event to ledger_days, in the appender's
// transaction.
func recordDay(ctx context.Context, ex storage.Execer, seq int64, at string, e *Event) error {
	var row dayRow
	t := newTotals()
	var found []Discrepancy
	err := ex.QueryRowContext(ctx, `SELECT first_seq, day, state, found FROM ledger_days ORDER BY first_seq DESC LIMIT 1`).
		Scan(&row.FirstSeq, &row.Day, &row.State, &row.Found)
	// A table that does not reach the event before (it could not be
	// rebuilt at Open) is left as it is: reconcile sees it is behind and
	// replays the events instead. It never costs an append.
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if seq != 0 {
			return nil
		}
		row.FirstSeq = seq
	case err != nil:
		return fmt.Errorf("inventory: read the day's totals: %w", err)
	default:
		if t, err = decodeTotals(row.State); err != nil || t.LastSeq != seq-1 {
			return nil
		}
		if row.Day == at[:10] {
			if err := json.Unmarshal(row.Found, &found); err != nil {
				return fmt.Errorf("inventory: the day's discrepancies stored in ledger_days are unreadable: %w", err)
			}
		} else {
			row.FirstSeq = seq
		}
	}
	more, err := t.apply(seq, at, e, nil)
	if err != nil {
		return nil // the totals disagree with the stock table; verify names it
	}
	next, err := encodeDay(row.FirstSeq, t, append(found, more...))
	if err != nil {
		return err
	}
	if _, err := ex.ExecContext(ctx, `INSERT INTO ledger_days(first_seq, day, last_seq, state, found) VALUES(?,?,?,?,?)
		ON CONFLICT(first_seq) DO UPDATE SET day = excluded.day, last_seq = excluded.last_seq, state = excluded.state, found = excluded.found`,
		next.FirstSeq, next.Day, next.LastSeq, next.State, next.Found); err != nil {
		return fmt.Errorf("inventory: write the day's totals: %w", err)
	}
	return nil
}

// dayBuilder replays events into the rows ledger_days should hold.
type dayBuilder struct {
	t     *totals
	keys  map[string]string
	rows  []dayRow
	first int64
	found []Discrepancy
	err   error
}

func newDayBuilder() *dayBuilder {
	return &dayBuilder{t: newTotals(), keys: map[string]string{}}
}

// add applies an event; a refusal when it does not replay (nothing added).
func (d *dayBuilder) add(seq int64, at string, e *Event) error {
	if d.t.Events > 0 && at[:10] != d.t.LastAt[:10] {
		d.close()
		d.first = seq
	} else if d.t.Events == 0 {
		d.first = seq
	}
	more, err := d.t.apply(seq, at, e, d.keys)
	if err != nil {
		return err
	}
	d.found = append(d.found, more...)
	return nil
}

func (d *dayBuilder) close() {
	if d.t.Events == 0 || d.err != nil {
		return
	}
	row, err := encodeDay(d.first, d.t, d.found)
	if err != nil {
		d.err = err
		return
	}
	d.rows = append(d.rows, row)
	d.found = nil
}

// finish returns every row, the last day's included.
func (d *dayBuilder) finish() ([]dayRow, error) {
	d.close()
	return d.rows, d.err
}

// rebuildDays replaces ledger_days with rows replayed from every event:
// for a database written before the table existed, or by an older
// program that did not keep it.
func rebuildDays(ctx context.Context, tx storage.Execer) error {
	rows, err := tx.QueryContext(ctx, `SELECT seq, data FROM ledger_events ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("inventory: rebuild the day totals: %w", err)
	}
	d := newDayBuilder()
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			rows.Close()
			return fmt.Errorf("inventory: rebuild the day totals: %w", err)
		}
		e, err := parseEntry(data, false)
		if err != nil {
			rows.Close()
			return fmt.Errorf("inventory: rebuild the day totals: event seq %d: %w (run audit verify)", seq, err)
		}
		if err := d.add(seq, formatTime(e.At), &e.Event); err != nil {
			rows.Close()
			return fmt.Errorf("inventory: rebuild the day totals: event seq %d does not replay: %v (run audit verify)", seq, refusalReason(err))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("inventory: rebuild the day totals: %w", err)
	}
	out, err := d.finish()
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM ledger_days`); err != nil {
		return fmt.Errorf("inventory: rebuild the day totals: %w", err)
	}
	for _, r := range out {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_days(first_seq, day, last_seq, state, found) VALUES(?,?,?,?,?)`,
			r.FirstSeq, r.Day, r.LastSeq, r.State, r.Found); err != nil {
			return fmt.Errorf("inventory: rebuild the day totals: %w", err)
		}
	}
	return nil
}

// daysCurrent reports whether ledger_days exists and covers every event.
func daysCurrent(ctx context.Context, ex storage.Execer) (bool, error) {
	var name string
	err := ex.QueryRowContext(ctx, `SELECT name FROM sqlite_master WHERE type='table' AND name='ledger_days'`).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inventory: look for ledger_days: %w", err)
	}
	var last, max int64
	if err := ex.QueryRowContext(ctx, `SELECT COALESCE((SELECT last_seq FROM ledger_days ORDER BY first_seq DESC LIMIT 1), -1),
		COALESCE((SELECT MAX(seq) FROM ledger_events), -1)`).Scan(&last, &max); err != nil {
		return false, fmt.Errorf("inventory: read ledger_days: %w", err)
	}
	return last == max, nil
}

// totalsAt returns the running totals after every event before t (as
// formatTime text): the last day row before t's day, plus t's day's events
// before t replayed.
func totalsAt(ctx context.Context, ex storage.Execer, t string) (*totals, error) {
	tot := newTotals()
	var state []byte
	err := ex.QueryRowContext(ctx, `SELECT state FROM ledger_days WHERE day < ? ORDER BY first_seq DESC LIMIT 1`, t[:10]).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("inventory: read the day totals: %w", err)
	default:
		if tot, err = decodeTotals(state); err != nil {
			return nil, err
		}
	}
	rows, err := ex.QueryContext(ctx, `SELECT seq, data FROM ledger_events WHERE seq > ? AND at < ? ORDER BY seq`, tot.LastSeq, t)
	if err != nil {
		return nil, fmt.Errorf("inventory: summarize: read events: %w", err)
	}
	defer rows.Close()
	keys := map[string]string{}
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, fmt.Errorf("inventory: summarize: read event: %w", err)
		}
		e, err := parseEntry(data, false)
		if err != nil {
			return nil, fmt.Errorf("inventory: summarize: event seq %d: %w (run audit verify)", seq, err)
		}
		if _, err := tot.apply(seq, formatTime(e.At), &e.Event, keys); err != nil {
			return nil, fmt.Errorf("inventory: summarize: event seq %d does not replay: %v (run audit verify)", seq, refusalReason(err))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inventory: summarize: read events: %w", err)
	}
	return tot, nil
}

// summarizeByDays is Summarize from ledger_days; ok is false when the
// table cannot stand for the events (then the caller replays them all).
func summarizeByDays(ctx context.Context, ex storage.Execer, station string, from, to time.Time) (p *Period, ok bool, err error) {
	fromS, toS := formatTime(from), formatTime(to)
	if fromS >= toS {
		return nil, false, nil
	}
	if db, isDB := ex.(*sql.DB); isDB {
		// One snapshot for the several reads below.
		tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return nil, false, fmt.Errorf("inventory: summarize: %w", err)
		}
		defer tx.Rollback()
		ex = tx
	}
	if cur, err := daysCurrent(ctx, ex); err != nil || !cur {
		return nil, false, err
	}
	b, err := totalsAt(ctx, ex, toS)
	if err != nil {
		return nil, false, err
	}
	if b.Disordered {
		return nil, false, nil
	}
	a, err := totalsAt(ctx, ex, fromS)
	if err != nil || a.Disordered {
		return nil, false, err
	}
	// The discrepancies of the period's events, from the days it touches.
	var found []Discrepancy
	rows, err := ex.QueryContext(ctx, `SELECT found FROM ledger_days WHERE day >= ? AND day <= ? ORDER BY first_seq`, fromS[:10], toS[:10])
	if err != nil {
		return nil, false, fmt.Errorf("inventory: summarize: read the day totals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, false, fmt.Errorf("inventory: summarize: read the day totals: %w", err)
		}
		if string(raw) == "[]" {
			continue
		}
		var day []Discrepancy
		if err := json.Unmarshal(raw, &day); err != nil {
			return nil, false, fmt.Errorf("inventory: summarize: the discrepancies stored in ledger_days are unreadable: %w (run audit verify)", err)
		}
		for _, d := range day {
			if d.Seq > a.LastSeq && d.Seq <= b.LastSeq {
				found = append(found, d)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("inventory: summarize: read the day totals: %w", err)
	}
	return periodOf(station, from, to, a, b, found), true, nil
}
