// Package inventory is the blank-card ledger: an append-only record of every
// blank ID card the station received, loaded, issued, spoiled or destroyed.
//
// Each event is checked against the stock before it is written (the
// invariant below must hold after every event), becomes a leaf of a Merkle
// tree (golang.org/x/mod/sumdb/tlog) in the same transaction, and is covered
// by signed checkpoints that the central server cosigns. The tables refuse
// UPDATE and DELETE through triggers, so a change to history needs a
// deliberate attack on the file, which `audit verify` then finds.
//
//	received ± adjustments = storage + Σ printers + consumed + test cards
//	                         + spoiled awaiting destruction + destroyed
package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/storage"
)

// Outbox is where signed checkpoints leave for the central server's
// cosignature; jobqueue's outbox provides it. Enqueue writes in ex, the
// ledger's own transaction, so a checkpoint is never signed without being
// queued.
type Outbox interface {
	Enqueue(ctx context.Context, ex storage.Execer, kind, key string, body []byte) error
}

// Options configure a Ledger.
type Options struct {
	// StationID names the station; it is in every event and is the origin
	// line of checkpoints. Required, and fixed for the life of the database.
	StationID string
	// Signer signs checkpoints with the station key (see LoadOrCreateSigner).
	Signer note.Signer
	// VerifierKey is the station's vkey text. It may be left empty when the
	// Signer came from LoadOrCreateSigner, which knows it.
	VerifierKey string
	// CentreVerifier, when set, must have cosigned a checkpoint handed to
	// StoreCosigned.
	CentreVerifier note.Verifier
	// CheckpointEvery signs a checkpoint after every N events (0: 100).
	CheckpointEvery int
	// Outbox receives signed checkpoints (kind "checkpoint"). May be nil in
	// tools and tests.
	Outbox Outbox
	// MaxStock refuses an event that would leave more than this many blanks
	// in storage and printers together, or that moves more than this many
	// at once (0: only MaxQuantity applies). A mistyped quantity is
	// refused instead of recorded forever.
	MaxStock int64
	// LowStock: Stock.Low is set when storage plus printers hold fewer
	// blanks than this (0: never).
	LowStock int64
	// Now is the clock (tests inject a fixed one). Default time.Now.
	Now func() time.Time
	// Log receives one structured line per event; never personal data.
	Log *zerolog.Logger
}

// Ledger appends events to the station database.
type Ledger struct {
	db       *sql.DB
	opt      Options
	origin   string
	verifier note.Verifier
	log      zerolog.Logger
}

// CheckpointKind is the outbox kind of checkpoint messages.
const CheckpointKind = "checkpoint"

var schema = []string{
	`CREATE TABLE IF NOT EXISTS ledger_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS ledger_keys(vkey TEXT PRIMARY KEY, added_at TEXT NOT NULL)`,
	// data holds the canonical bytes (the Merkle leaf); at, kind, printer and
	// job are copies for queries, which verify checks against data.
	`CREATE TABLE IF NOT EXISTS ledger_events(
		seq INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,
		printer TEXT NOT NULL DEFAULT '', job TEXT NOT NULL DEFAULT '', data BLOB NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS ledger_events_at ON ledger_events(at)`,
	// tlog stored hashes, indexed by tlog.StoredHashIndex.
	`CREATE TABLE IF NOT EXISTS ledger_hashes(idx INTEGER PRIMARY KEY, hash BLOB NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS ledger_checkpoints(size INTEGER PRIMARY KEY, hash BLOB NOT NULL, note BLOB NOT NULL, at TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS ledger_cosigned(id INTEGER PRIMARY KEY, size INTEGER NOT NULL, note BLOB NOT NULL, at TEXT NOT NULL)`,
	// The one table that changes: current quantity per bucket, so that an
	// append need not replay history. Verify recomputes it from the events.
	`CREATE TABLE IF NOT EXISTS ledger_balance(bucket TEXT PRIMARY KEY, qty INTEGER NOT NULL)`,
	// Running totals at the end of each UTC day (days.go), so that a
	// period's summary needs no replay of the whole ledger. A working copy
	// like ledger_balance: verify recomputes it from the events.
	`CREATE TABLE IF NOT EXISTS ledger_days(first_seq INTEGER PRIMARY KEY, day TEXT NOT NULL, last_seq INTEGER NOT NULL,
		state BLOB NOT NULL, found BLOB NOT NULL)`,
}

// appendOnly lists the tables whose rows may never change or disappear.
var appendOnly = []string{"ledger_meta", "ledger_keys", "ledger_events", "ledger_hashes", "ledger_checkpoints", "ledger_cosigned"}

func triggers() []string {
	var s []string
	for _, t := range appendOnly {
		for _, op := range []string{"UPDATE", "DELETE"} {
			s = append(s, fmt.Sprintf(`CREATE TRIGGER IF NOT EXISTS %s_no_%s BEFORE %s ON %s
				BEGIN SELECT RAISE(ABORT, '%s is append-only: %s refused'); END`,
				t, strings.ToLower(op), op, t, t, op))
		}
	}
	return append(s, `CREATE TRIGGER IF NOT EXISTS ledger_balance_no_delete BEFORE DELETE ON ledger_balance
		BEGIN SELECT RAISE(ABORT, 'ledger_balance rows are never deleted'); END`)
}

// Open creates the ledger tables if needed and checks that the database
// belongs to this station.
func Open(ctx context.Context, db *sql.DB, opt Options) (*Ledger, error) {
	if strings.TrimSpace(opt.StationID) == "" || strings.ContainsAny(opt.StationID, "\n \t") {
		return nil, errors.New("inventory: open: station id must be set and contain no spaces (check the station configuration)")
	}
	if opt.Signer == nil {
		return nil, errors.New("inventory: open: no signer: checkpoints need the station key (see LoadOrCreateSigner)")
	}
	if opt.CheckpointEvery <= 0 {
		opt.CheckpointEvery = 100
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	l := &Ledger{db: db, opt: opt, origin: Origin(opt.StationID), log: zerolog.Nop()}
	if opt.Log != nil {
		l.log = opt.Log.With().Str("component", "inventory").Logger()
	}
	vkey := opt.VerifierKey
	if vkey == "" {
		if k, ok := opt.Signer.(interface{ VerifierKey() string }); ok {
			vkey = k.VerifierKey()
		}
	}
	if vkey != "" {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, fmt.Errorf("inventory: open: station verifier key: %w", err)
		}
		if v.Name() != opt.Signer.Name() || v.KeyHash() != opt.Signer.KeyHash() {
			return nil, fmt.Errorf("inventory: open: verifier key %q does not belong to signer %q", v.Name(), opt.Signer.Name())
		}
		l.verifier = v
	}
	err := storage.InTx(ctx, db, func(tx *sql.Tx) error {
		for _, q := range append(schema, triggers()...) {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("inventory: create tables: %w", err)
			}
		}
		var station string
		switch err := tx.QueryRowContext(ctx, `SELECT value FROM ledger_meta WHERE key='station'`).Scan(&station); {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_meta(key, value) VALUES('station', ?)`, opt.StationID); err != nil {
				return fmt.Errorf("inventory: record station id: %w", err)
			}
		case err != nil:
			return fmt.Errorf("inventory: read station id: %w", err)
		case station != opt.StationID:
			return fmt.Errorf("inventory: this database's ledger belongs to station %q, not %q (wrong database file or wrong configuration)", station, opt.StationID)
		}
		// A database from before ledger_days, or last written by a program
		// that did not keep it: rebuild it from the events. A ledger that
		// does not replay keeps an empty table (reconcile then replays and
		// says why; verify names the event) and still opens.
		if cur, err := daysCurrent(ctx, tx); err != nil {
			return err
		} else if !cur {
			if err := rebuildDays(ctx, tx); err != nil {
				l.log.Warn().Err(err).Msg("ledger day totals not rebuilt: audit reconcile will replay every event")
				if _, err := tx.ExecContext(ctx, `DELETE FROM ledger_days`); err != nil {
					return fmt.Errorf("inventory: clear the day totals: %w", err)
				}
			}
		}
		if vkey != "" {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO ledger_keys(vkey, added_at) VALUES(?, ?)`, vkey, formatTime(opt.Now())); err != nil {
				return fmt.Errorf("inventory: record station key: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Events after the last checkpoint mean the last run ended without its
	// shutdown checkpoint (a crash): sign them now, before anything else.
	var size, last int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE((SELECT MAX(seq)+1 FROM ledger_events), 0),
		COALESCE((SELECT MAX(size) FROM ledger_checkpoints), 0)`).Scan(&size, &last); err != nil {
		return nil, fmt.Errorf("inventory: open: %w", err)
	}
	if size > last {
		if _, err := l.Checkpoint(ctx, db); err != nil {
			return nil, fmt.Errorf("inventory: open: sign the events left unsigned by the last run: %w", err)
		}
	}
	return l, nil
}

// Origin is the first line of a station's checkpoints.
func Origin(stationID string) string { return "printstation/" + stationID + "/ledger" }

// Record appends an event in a transaction of its own.
func (l *Ledger) Record(ctx context.Context, e Event) (Entry, error) {
	var ent Entry
	err := storage.InTx(ctx, l.db, func(tx *sql.Tx) error {
		var err error
		ent, err = l.Append(ctx, tx, e)
		return err
	})
	return ent, err
}

// Append writes an event in the caller's transaction, so that, for example,
// a job's end and the blank it consumed commit together. It returns a
// *Refusal (errors.Is(err, ErrRefused)) when the event is incomplete or
// would break the invariant; then nothing was written. Concurrent appenders
// are serialised by SQLite's write lock, which the transaction holds from
// BEGIN IMMEDIATE (storage.Open sets it).
func (l *Ledger) Append(ctx context.Context, tx *sql.Tx, e Event) (Entry, error) {
	e, err := normalize(e)
	if err != nil {
		return Entry{}, err
	}
	bal, err := loadBalances(ctx, tx)
	if err != nil {
		return Entry{}, err
	}
	d, err := bal.apply(e)
	if err != nil {
		return Entry{}, err
	}
	if max := l.opt.MaxStock; max > 0 {
		if e.Quantity > max || e.Quantity < -max {
			return Entry{}, refuse(e.Kind, "quantity %d is more than this station's maximum stock of %d (engine.max_stock in the configuration)", e.Quantity, max)
		}
		if after := stockOf(bal).Available; after > max && e.Kind != Loaded && e.Kind != Unloaded {
			return Entry{}, refuse(e.Kind, "this would leave %d blanks in storage and printers, more than this station's maximum of %d (engine.max_stock in the configuration)", after, max)
		}
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq)+1, 0) FROM ledger_events`).Scan(&seq); err != nil {
		return Entry{}, fmt.Errorf("inventory: next sequence number: %w", err)
	}
	ent := Entry{Seq: seq, Station: l.opt.StationID, At: l.opt.Now().UTC(), Event: e}
	if ent.Data, err = encodeEntry(ent); err != nil {
		return Entry{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_events(seq, at, kind, printer, job, data) VALUES(?,?,?,?,?,?)`,
		seq, formatTime(ent.At), string(e.Kind), e.Printer, e.Job, ent.Data); err != nil {
		return Entry{}, fmt.Errorf("inventory: write event %d: %w", seq, err)
	}
	hashes, err := tlog.StoredHashes(seq, ent.Data, hashReader(ctx, tx))
	if err != nil {
		return Entry{}, fmt.Errorf("inventory: tree hashes for event %d: %w", seq, err)
	}
	base := tlog.StoredHashIndex(0, seq)
	for i, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_hashes(idx, hash) VALUES(?, ?)`, base+int64(i), h[:]); err != nil {
			return Entry{}, fmt.Errorf("inventory: write tree hash for event %d: %w", seq, err)
		}
	}
	if err := recordDay(ctx, tx, seq, formatTime(ent.At), &e); err != nil {
		return Entry{}, err
	}
	for _, k := range sortedKeys(d) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_balance(bucket, qty) VALUES(?, ?)
			ON CONFLICT(bucket) DO UPDATE SET qty = qty + excluded.qty`, k, d[k]); err != nil {
			return Entry{}, fmt.Errorf("inventory: update stock for event %d: %w", seq, err)
		}
	}
	if (seq+1)%int64(l.opt.CheckpointEvery) == 0 || e.Kind == ShiftClosed {
		if _, err := l.checkpoint(ctx, tx); err != nil {
			return Entry{}, err
		}
	}
	l.log.Info().Int64("seq", seq).Str("kind", string(e.Kind)).Str("printer", e.Printer).
		Int64("quantity", e.Quantity).Str("reason", reasonForLog(e)).Msg("ledger event")
	return ent, nil
}

// reasonForLog keeps free text (adjustment reasons may name people) out of logs.
func reasonForLog(e Event) string {
	if e.Kind == Spoiled {
		return e.Reason
	}
	return ""
}

func loadBalances(ctx context.Context, ex storage.Execer) (balances, error) {
	rows, err := ex.QueryContext(ctx, `SELECT bucket, qty FROM ledger_balance`)
	if err != nil {
		return nil, fmt.Errorf("inventory: read stock: %w", err)
	}
	defer rows.Close()
	b := balances{}
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("inventory: read stock: %w", err)
		}
		b[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inventory: read stock: %w", err)
	}
	return b, nil
}

// hashReader reads stored tree hashes through ex (the current transaction).
func hashReader(ctx context.Context, ex storage.Execer) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			var b []byte
			if err := ex.QueryRowContext(ctx, `SELECT hash FROM ledger_hashes WHERE idx = ?`, x).Scan(&b); err != nil {
				return nil, fmt.Errorf("tree hash %d: %w", x, err)
			}
			if len(b) != tlog.HashSize {
				return nil, fmt.Errorf("tree hash %d has %d bytes, want %d", x, len(b), tlog.HashSize)
			}
			copy(out[i][:], b)
		}
		return out, nil
	})
}

// Stock is the ledger's view of where the blanks are.
type Stock struct {
	Received        int64            `json:"received"`
	Storage         int64            `json:"storage"`
	Printers        map[string]int64 `json:"printers"`
	Consumed        int64            `json:"consumed"`
	TestCards       int64            `json:"test_cards"`
	SpoiledAwaiting int64            `json:"spoiled_awaiting_destruction"`
	Destroyed       int64            `json:"destroyed"`
	Adjustments     int64            `json:"adjustments"`
	// Available is storage plus all printers: blanks that can still be used.
	Available int64 `json:"available"`
	// Low is set when Available is below Options.LowStock.
	Low    bool  `json:"low"`
	Events int64 `json:"events"`
}

// Stock returns the current quantities.
func (l *Ledger) Stock(ctx context.Context) (Stock, error) {
	b, err := loadBalances(ctx, l.db)
	if err != nil {
		return Stock{}, err
	}
	s := stockOf(b)
	s.Low = l.opt.LowStock > 0 && s.Available < l.opt.LowStock
	if err := l.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq)+1, 0) FROM ledger_events`).Scan(&s.Events); err != nil {
		return Stock{}, fmt.Errorf("inventory: count events: %w", err)
	}
	return s, nil
}

func stockOf(b balances) Stock {
	s := Stock{Received: b[bReceived], Storage: b[Storage], Printers: map[string]int64{}, Consumed: b[bConsumed],
		TestCards: b[bTest], SpoiledAwaiting: b[bSpoiled], Destroyed: b[bDestroyed], Adjustments: b[bAdjusted]}
	s.Available = s.Storage
	for k, v := range b {
		if p, ok := strings.CutPrefix(k, "printer:"); ok {
			s.Printers[p] = v
			s.Available += v
		}
	}
	return s
}
