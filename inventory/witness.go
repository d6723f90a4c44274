package inventory

// Witnessing: the centre keeps, per station, the last tree it cosigned and
// cosigns a new checkpoint only with a consistency proof from that tree
// (RFC 6962 §2.1.2, as golang.org/x/mod/sumdb/tlog implements it for the Go
// checksum database). A ledger that was rewritten, rolled back or started
// over cannot produce such a proof, so the centre refuses it, the station
// refuses to print when its database does not extend the centre's latest
// tree, and an auditor checks a copy against the centre's list.

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/storage"
)

// ErrNotExtending is returned by Extends: this database is not a later state
// of the ledger the centre witnessed.
var ErrNotExtending = errors.New("this database does not extend the ledger the centre witnessed")

// Size is the number of events in the ledger.
func (l *Ledger) Size(ctx context.Context) (int64, error) {
	var n int64
	if err := l.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq)+1, 0) FROM ledger_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("inventory: ledger size: %w", err)
	}
	return n, nil
}

// Root is the tree hash over the first size events.
func (l *Ledger) Root(ctx context.Context, size int64) (tlog.Hash, error) {
	h, err := tlog.TreeHash(size, hashReader(ctx, l.db))
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("inventory: tree hash at size %d: %w", size, err)
	}
	return h, nil
}

// Prove returns the consistency proof from the tree of size from to the tree
// of size to (from ≤ to ≤ Size), in the encoding the centre takes: each hash
// in standard base64.
func (l *Ledger) Prove(ctx context.Context, from, to int64) ([]string, error) {
	if from == 0 || from == to {
		return []string{}, nil
	}
	p, err := tlog.ProveTree(to, from, hashReader(ctx, l.db))
	if err != nil {
		return nil, fmt.Errorf("inventory: consistency proof from %d to %d: %w", from, to, err)
	}
	out := make([]string, len(p))
	for i, h := range p {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out, nil
}

// WitnessedSize is the largest size of a checkpoint the centre cosigned that
// this database holds (0 when none).
func (l *Ledger) WitnessedSize(ctx context.Context) (int64, error) {
	var n int64
	if err := l.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(size), 0) FROM ledger_cosigned`).Scan(&n); err != nil {
		return 0, fmt.Errorf("inventory: witnessed size: %w", err)
	}
	return n, nil
}

// Extends checks that this database holds the tree the centre last
// witnessed: at least size events, whose tree hash at size is root. The
// error, wrapping ErrNotExtending, says what differs.
func (l *Ledger) Extends(ctx context.Context, size int64, root tlog.Hash) error {
	have, err := l.Size(ctx)
	if err != nil {
		return err
	}
	if have < size {
		return fmt.Errorf("%w: the centre witnessed %d events, this database holds %d (it is empty, restored from an older copy, or events were deleted)", ErrNotExtending, size, have)
	}
	h, err := l.Root(ctx, size)
	if err != nil {
		return err
	}
	if h != root {
		return fmt.Errorf("%w: the first %d events differ from the ones the centre witnessed (root %s here, %s at the centre): the ledger was rewritten or replaced", ErrNotExtending, size, h, root)
	}
	return nil
}

// Epoch is the enrolment epoch this ledger is in: the epoch of its last
// enrolled event, 0 when it was never enrolled.
func (l *Ledger) Epoch(ctx context.Context) (int64, error) {
	var data []byte
	err := l.db.QueryRowContext(ctx, `SELECT data FROM ledger_events WHERE kind = ? ORDER BY seq DESC LIMIT 1`, string(Enrolled)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("inventory: enrolment epoch: %w", err)
	}
	e, err := ParseEntry(data)
	if err != nil {
		return 0, fmt.Errorf("inventory: enrolment event: %w", err)
	}
	return e.Epoch, nil
}

// Enrol records the opening of enrolment epoch epoch (by actor, for
// reason), naming the tree the centre witnessed before (prevSize 0 for
// none), and signs a checkpoint over it, all in one transaction. The
// checkpoint is what the station hands the centre with its enrolment.
func (l *Ledger) Enrol(ctx context.Context, actor, reason string, epoch, prevSize int64, prevRoot tlog.Hash) (Checkpoint, error) {
	ev := Event{Kind: Enrolled, Actor: actor, Reason: reason, Epoch: epoch, PrevSize: prevSize}
	if prevSize > 0 {
		ev.PrevRoot = prevRoot.String()
	}
	var c Checkpoint
	err := storage.InTx(ctx, l.db, func(tx *sql.Tx) error {
		if _, err := l.Append(ctx, tx, ev); err != nil {
			return err
		}
		var err error
		c, err = l.checkpoint(ctx, tx)
		return err
	})
	return c, err
}

// VerifierKey is the station's note verifier key (what the centre pins at
// enrolment); "" when the ledger was opened without it.
func (l *Ledger) VerifierKey() string {
	if k, ok := l.opt.Signer.(interface{ VerifierKey() string }); ok {
		return k.VerifierKey()
	}
	return l.opt.VerifierKey
}

// Verifier is the station's note verifier (nil when unknown).
func (l *Ledger) Verifier() note.Verifier { return l.verifier }

// CheckpointIfOlder signs a checkpoint when events were appended since the
// last one and that one is older than age, so that the tail the centre has
// not witnessed stays short even when few events happen. It reports
// whether it signed.
func (l *Ledger) CheckpointIfOlder(ctx context.Context, age time.Duration) (bool, error) {
	var size, last int64
	var at sql.NullString
	if err := l.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT MAX(seq)+1 FROM ledger_events), 0),
		COALESCE((SELECT MAX(size) FROM ledger_checkpoints), 0),
		(SELECT at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1)`).Scan(&size, &last, &at); err != nil {
		return false, fmt.Errorf("inventory: checkpoint age: %w", err)
	}
	if size <= last {
		return false, nil
	}
	if at.Valid {
		t, err := time.Parse(timeFormat, at.String)
		if err == nil && l.opt.Now().Sub(t) < age {
			return false, nil
		}
	}
	if _, err := l.Checkpoint(ctx, l.db); err != nil {
		return false, err
	}
	return true, nil
}

// CentreExport is the centre's record of what it witnessed for one station:
// every enrolment and every checkpoint it cosigned. The centre serves it
// (GET /v1/stations/{station}/checkpoints) and exports it for auditors, who
// check a database against it with `audit verify --centre`.
type CentreExport struct {
	Station     string             `json:"station"`
	WitnessKey  string             `json:"witness_key"`
	Enrolments  []CentreEnrolment  `json:"enrolments"`
	Checkpoints []CentreCheckpoint `json:"checkpoints"`
}

// CentreEnrolment is one enrolment epoch as the centre recorded it.
type CentreEnrolment struct {
	Epoch  int64     `json:"epoch"`
	VKey   string    `json:"vkey"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	// PrevSize and PrevRoot are the last tree of the epoch before: what
	// the station's new database no longer holds.
	PrevSize int64  `json:"prev_size"`
	PrevRoot string `json:"prev_root,omitempty"`
	// JobsInQuestion were served to the station and have no outcome: the
	// centre does not serve them again until a person decides.
	JobsInQuestion []string `json:"jobs_in_question"`
}

// CentreCheckpoint is one checkpoint the centre cosigned.
type CentreCheckpoint struct {
	Epoch      int64     `json:"epoch"`
	Size       int64     `json:"size"`
	Root       string    `json:"root"` // base64, as in the note
	Checkpoint string    `json:"checkpoint"`
	At         time.Time `json:"at"`
}

// ProveNote returns the size of a checkpoint note this ledger signed and the
// consistency proof to it from the tree of size from.
func (l *Ledger) ProveNote(ctx context.Context, msg []byte, from int64) (int64, []string, error) {
	_, t, err := ParseCheckpoint(noteText(msg))
	if err != nil {
		return 0, nil, fmt.Errorf("inventory: checkpoint to prove: %w", err)
	}
	if from > t.N {
		from = t.N
	}
	p, err := l.Prove(ctx, from, t.N)
	return t.N, p, err
}
