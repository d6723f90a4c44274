// Package jobqueue holds the print jobs the central server authorized for this
// station: it verifies each signed envelope, stores it durably and encrypted,
// tracks its state until it ends, reports outcomes through an outbox, and
// syncs with the centre over a slow and flaky link.
package jobqueue

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"printstation/storage"
)

// Options configure a Queue.
type Options struct {
	StationID  string
	IssuerKeys map[string]ed25519.PublicKey // pinned issuer keys by kid
	DataKey    []byte                       // 32 bytes, see LoadDataKey
	Limits     Limits
	// Retention keeps an ended job's personal data this long after the centre
	// acknowledged its outcome (0: purge at once).
	Retention time.Duration
	Now       func() time.Time
	Logger    zerolog.Logger
}

// Queue is the durable job store. It is safe for concurrent use.
type Queue struct {
	db     *sql.DB
	opts   Options
	ver    *Verifier
	seal   *sealer
	outbox *Outbox
	log    zerolog.Logger
	now    func() time.Time
}

// JobMeta is what the station may know about a job without its personal data.
type JobMeta struct {
	ID              string
	Batch           string
	Kind            Kind
	ReprintOf       string
	Recorded        time.Time
	Template        TemplateRef
	State           State
	Reason          string
	Code            Code // for refused jobs; for waiting jobs what a person must do (Detail.Code)
	Size            int  // envelope bytes
	Attempts        int  // times it went to printing
	NotAfter        time.Time
	ReceivedAt      time.Time
	UpdatedAt       time.Time
	EndedAt         time.Time // zero while not ended
	Purged          bool      // personal data deleted
	RevokeRequested bool      // the centre revoked it when it was too late to stop
}

// Batch summarizes one batch as the centre defined it.
type Batch struct {
	ID            string
	Total         int
	ByState       map[State]int
	FirstRecorded time.Time
	LastReceived  time.Time
}

// Printable is how many of the batch's jobs can go to a printer now.
func (b Batch) Printable() int { return b.ByState[Queued] }

const schema = `
CREATE TABLE IF NOT EXISTS job_jobs(
	id TEXT PRIMARY KEY,
	batch TEXT NOT NULL,
	kind TEXT NOT NULL,
	reprint_of TEXT NOT NULL DEFAULT '',
	recorded TEXT NOT NULL,
	template_id TEXT NOT NULL,
	template_sha TEXT NOT NULL,
	nbf INTEGER NOT NULL DEFAULT 0,
	exp INTEGER NOT NULL DEFAULT 0,
	size INTEGER NOT NULL DEFAULT 0,
	state TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	code TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	received_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	ended_at TEXT,
	purged_at TEXT,
	outcome_key TEXT,
	revoke_requested TEXT
);
CREATE INDEX IF NOT EXISTS job_jobs_batch ON job_jobs(batch, recorded, id);
CREATE INDEX IF NOT EXISTS job_jobs_state ON job_jobs(state);
-- The next jobs to print of a batch (Queued), without reading the batch's
-- printed ones or the whole table for each card.
CREATE INDEX IF NOT EXISTS job_jobs_batch_state ON job_jobs(batch, state, recorded, id);
-- The ended jobs whose personal data is not yet purged (Purge).
CREATE INDEX IF NOT EXISTS job_jobs_unpurged ON job_jobs(outcome_key) WHERE ended_at IS NOT NULL AND purged_at IS NULL;
-- Personal data lives apart from the job row, written once and deleted once,
-- so that the frequent state updates never copy the ciphertext around the
-- file (freed pages would keep old copies).
CREATE TABLE IF NOT EXISTS job_data(
	job_id TEXT PRIMARY KEY,
	blob BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS job_events(
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	job_id TEXT NOT NULL,
	from_state TEXT NOT NULL,
	to_state TEXT NOT NULL,
	reason TEXT NOT NULL,
	at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_events_job ON job_events(job_id, seq);
CREATE TABLE IF NOT EXISTS job_revocations(
	job_id TEXT PRIMARY KEY,
	status TEXT NOT NULL,
	at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_templates(
	sha256 TEXT PRIMARY KEY,
	id TEXT NOT NULL,
	body BLOB NOT NULL,
	fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_state(
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_items(
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL,
	key TEXT NOT NULL UNIQUE,
	body BLOB NOT NULL,
	created_at TEXT NOT NULL,
	batch_key TEXT,
	attempts INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	acked_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_items_pending ON outbox_items(acked_at, kind, seq);
-- The centre's answer to a report that has one (its reference for a stock
-- report or a request for blanks), or its reason when it refused the
-- report for good; written with the item's acknowledgement.
CREATE TABLE IF NOT EXISTS outbox_answers(
	key TEXT PRIMARY KEY,
	ref TEXT NOT NULL DEFAULT '',
	refused TEXT NOT NULL DEFAULT '',
	at TEXT NOT NULL
);
`

// Open creates the queue's tables if needed and returns the queue.
func Open(ctx context.Context, db *sql.DB, opts Options) (*Queue, error) {
	if opts.StationID == "" {
		return nil, errors.New("jobqueue: station id is empty (set station.id in the config)")
	}
	if len(opts.IssuerKeys) == 0 {
		return nil, errors.New("jobqueue: no issuer keys pinned (set the issuer key file in the config)")
	}
	s, err := newSealer(opts.DataKey)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("jobqueue: create tables: %w", err)
	}
	if _, err := db.ExecContext(ctx, nikSchema); err != nil {
		return nil, fmt.Errorf("jobqueue: create the NIK index: %w", err)
	}
	q := &Queue{
		db:   db,
		opts: opts,
		ver:  &Verifier{Station: opts.StationID, Keys: opts.IssuerKeys, Limits: opts.Limits, Now: opts.Now},
		seal: s,
		log:  opts.Logger.With().Str("component", "jobqueue").Logger(),
		now:  opts.Now,
	}
	q.outbox = &Outbox{db: db, now: opts.Now, wake: make(chan struct{}, 1)}
	if err := q.indexExisting(ctx); err != nil {
		return nil, err
	}
	return q, nil
}

// Outbox returns the queue's outbox (shared with other packages' reports).
func (q *Queue) Outbox() *Outbox { return q.outbox }

// DB returns the database the queue lives in.
func (q *Queue) DB() *sql.DB { return q.db }

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTS(s sql.NullString) time.Time {
	if !s.Valid || s.String == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s.String)
	return t
}

// Add verifies one envelope and stores it. A job that fails a check returns a
// *Refusal (errors.Is(err, ErrRefused)); the refusal is already recorded and
// queued for the centre.
func (q *Queue) Add(ctx context.Context, compactJWS string) (JobMeta, error) {
	var meta JobMeta
	var ref *Refusal
	err := storage.InTx(ctx, q.db, func(tx *sql.Tx) error {
		var err error
		meta, ref, err = q.addTx(ctx, tx, compactJWS)
		return err
	})
	if err != nil {
		return JobMeta{}, err
	}
	if ref != nil {
		return JobMeta{}, ref
	}
	return meta, nil
}

// PageResult says what became of a page of jobs from the centre.
type PageResult struct {
	Added   []JobMeta
	Refused []*Refusal
	Revoked []string
}

// AddPage stores a page of jobs, applies its revocations and records the
// cursor that follows it, all in one transaction: after a crash the page is
// either wholly stored with its cursor or not at all, so no job is lost and
// none is stored twice.
func (q *Queue) AddPage(ctx context.Context, jobs []string, revoked []string, cursorName, cursor string) (PageResult, error) {
	var res PageResult
	err := storage.InTx(ctx, q.db, func(tx *sql.Tx) error {
		res = PageResult{}
		for _, j := range jobs {
			m, ref, err := q.addTx(ctx, tx, j)
			if err != nil {
				return err
			}
			if ref != nil {
				res.Refused = append(res.Refused, ref)
			} else {
				res.Added = append(res.Added, m)
			}
		}
		for _, id := range revoked {
			r, err := q.revokeTx(ctx, tx, id, "revoked by the centre")
			if err != nil {
				return err
			}
			if r == RevokeDone {
				res.Revoked = append(res.Revoked, id)
			}
		}
		if cursorName != "" {
			return setCursor(ctx, tx, cursorName, cursor)
		}
		return nil
	})
	if err != nil {
		return PageResult{}, err
	}
	return res, nil
}

func setCursor(ctx context.Context, ex storage.Execer, name, value string) error {
	_, err := ex.ExecContext(ctx, `INSERT INTO sync_state(name, value) VALUES(?, ?)
		ON CONFLICT(name) DO UPDATE SET value = excluded.value`, name, value)
	if err != nil {
		return fmt.Errorf("jobqueue: save cursor: %w", err)
	}
	return nil
}

// Cursor returns a saved sync cursor ("" before the first sync).
func (q *Queue) Cursor(ctx context.Context, name string) (string, error) {
	var v string
	err := q.db.QueryRowContext(ctx, `SELECT value FROM sync_state WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("jobqueue: read cursor: %w", err)
	}
	return v, nil
}

func (q *Queue) addTx(ctx context.Context, tx *sql.Tx, compact string) (JobMeta, *Refusal, error) {
	vr, err := q.ver.verify(compact)
	if err != nil {
		var ref *Refusal
		if !errors.As(err, &ref) {
			return JobMeta{}, nil, err
		}
		return JobMeta{}, ref, q.refuse(ctx, tx, compact, vr, ref)
	}
	p := vr.payload
	var existing string
	err = tx.QueryRowContext(ctx, `SELECT state FROM job_jobs WHERE id = ?`, p.JobID).Scan(&existing)
	switch {
	case err == nil:
		ref := &Refusal{JobID: p.JobID, Code: CodeDuplicate, Reason: fmt.Sprintf("job id was already received (now %s); a second card needs a new reprint job", existing)}
		vr.signedOK = false // never overwrite the first job's row
		return JobMeta{}, ref, q.refuse(ctx, tx, compact, vr, ref)
	case !errors.Is(err, sql.ErrNoRows):
		return JobMeta{}, nil, fmt.Errorf("jobqueue: look up job %s: %w", p.JobID, err)
	}
	now := q.now()
	var rev string
	err = tx.QueryRowContext(ctx, `SELECT status FROM job_revocations WHERE job_id = ?`, p.JobID).Scan(&rev)
	if err == nil {
		// Revoked before it arrived: keep the id (so it is never accepted
		// later) but not the personal data.
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_jobs(id, batch, kind, reprint_of, recorded, template_id, template_sha, nbf, exp, size, state, reason, code, received_at, updated_at, ended_at)
			VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			p.JobID, p.Batch, p.Kind, p.ReprintOf, ts(p.Recorded), p.Template.ID, p.Template.SHA256, p.NotBefore, p.Expires, len(compact),
			Revoked, "revoked by the centre before it arrived", CodeRevoked, ts(now), ts(now), ts(now)); err != nil {
			return JobMeta{}, nil, fmt.Errorf("jobqueue: store revoked job %s: %w", p.JobID, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE job_revocations SET status = 'applied' WHERE job_id = ?`, p.JobID); err != nil {
			return JobMeta{}, nil, err
		}
		if err := q.report(ctx, tx, p.JobID, Received, Revoked, Detail{Reason: "revoked by the centre before it arrived"}); err != nil {
			return JobMeta{}, nil, err
		}
		return JobMeta{}, &Refusal{JobID: p.JobID, Code: CodeRevoked, Reason: "the centre revoked this job before it arrived"}, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return JobMeta{}, nil, err
	}
	state := Received
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM job_templates WHERE sha256 = ?`, strings.ToLower(p.Template.SHA256)).Scan(&one)
	if err == nil {
		state = Queued
	} else if !errors.Is(err, sql.ErrNoRows) {
		return JobMeta{}, nil, err
	}
	blob := q.seal.seal(p.JobID, vr.raw)
	if _, err := tx.ExecContext(ctx, `INSERT INTO job_jobs(id, batch, kind, reprint_of, recorded, template_id, template_sha, nbf, exp, size, state, received_at, updated_at)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		p.JobID, p.Batch, p.Kind, p.ReprintOf, ts(p.Recorded), p.Template.ID, strings.ToLower(p.Template.SHA256), p.NotBefore, p.Expires, len(compact),
		state, ts(now), ts(now)); err != nil {
		return JobMeta{}, nil, fmt.Errorf("jobqueue: store job %s: %w", p.JobID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO job_data(job_id, blob) VALUES(?, ?)`, p.JobID, blob); err != nil {
		return JobMeta{}, nil, fmt.Errorf("jobqueue: store job %s data: %w", p.JobID, err)
	}
	if err := q.indexNIK(ctx, tx, p.JobID, p.Fields); err != nil {
		return JobMeta{}, nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO job_events(job_id, from_state, to_state, reason, at) VALUES(?,?,?,?,?)`,
		p.JobID, "", state, "received from the centre", ts(now)); err != nil {
		return JobMeta{}, nil, err
	}
	q.log.Info().Str("job", p.JobID).Str("batch", p.Batch).Str("kind", string(p.Kind)).Str("state", string(state)).Msg("job received")
	return JobMeta{
		ID: p.JobID, Batch: p.Batch, Kind: p.Kind, ReprintOf: p.ReprintOf, Recorded: p.Recorded,
		Template: p.Template, State: state, Size: len(compact), NotAfter: time.Unix(p.Expires, 0).UTC(),
		ReceivedAt: now.UTC(), UpdatedAt: now.UTC(),
	}, nil, nil
}

// refuse records a refusal: a job row (only when the signature proved the
// centre issued this id, so that forged envelopes cannot burn real ids) and
// an outcome for the centre, keyed by the envelope's hash so that the same
// bad envelope seen twice is reported once.
func (q *Queue) refuse(ctx context.Context, tx *sql.Tx, compact string, vr verified, ref *Refusal) error {
	now := q.now()
	sum := sha256.Sum256([]byte(compact))
	key := "refused:" + hex.EncodeToString(sum[:16])
	q.log.Warn().Str("job", ref.JobID).Str("code", string(ref.Code)).Str("reason", ref.Reason).Msg("job refused")
	if vr.signedOK {
		p := vr.payload
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_jobs(id, batch, kind, reprint_of, recorded, template_id, template_sha, nbf, exp, size, state, reason, code, received_at, updated_at, ended_at, outcome_key)
			VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			p.JobID, p.Batch, p.Kind, p.ReprintOf, ts(p.Recorded), p.Template.ID, p.Template.SHA256, p.NotBefore, p.Expires, len(compact),
			Refused, ref.Reason, ref.Code, ts(now), ts(now), ts(now), key); err != nil {
			return fmt.Errorf("jobqueue: record refused job %s: %w", p.JobID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_events(job_id, from_state, to_state, reason, at) VALUES(?,?,?,?,?)`,
			p.JobID, "", Refused, ref.Reason, ts(now)); err != nil {
			return err
		}
	}
	body, err := json.Marshal(OutcomeItem{Key: key, JobID: ref.JobID, Outcome: "refused", Reason: string(ref.Code) + ": " + ref.Reason, At: now.UTC()})
	if err != nil {
		return err
	}
	return q.outbox.Enqueue(ctx, tx, KindOutcome, key, body)
}

// Detail is what the engine knows about a state change beyond the state.
type Detail struct {
	Reason  string
	Printer string // printer id
	UID     string // chip UID hex; "" when unknown
	// Code says, for the web page, what a person must do about a job that
	// waits (station's attention codes); stored as the job's code.
	Code string
}

// SetState moves a job to st in the caller's transaction (so that the job's
// state and the ledger event for the blank it used commit together). Illegal
// transitions return a *TransitionError. Ended states and spoiled blanks
// enqueue an outcome for the centre.
func (q *Queue) SetState(ctx context.Context, ex storage.Execer, jobID string, st State, reason string) error {
	return q.SetStateDetail(ctx, ex, jobID, st, Detail{Reason: reason})
}

// SetStateDetail is SetState with the printer and chip UID for the report.
func (q *Queue) SetStateDetail(ctx context.Context, ex storage.Execer, jobID string, st State, d Detail) error {
	if !st.Valid() {
		return fmt.Errorf("jobqueue: job %s: unknown state %q", jobID, st)
	}
	var from State
	err := ex.QueryRowContext(ctx, `SELECT state FROM job_jobs WHERE id = ?`, jobID).Scan(&from)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("jobqueue: job %s: %w", jobID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("jobqueue: job %s: %w", jobID, err)
	}
	if !CanMove(from, st) {
		return &TransitionError{JobID: jobID, From: from, To: st}
	}
	now := q.now()
	var ended any
	if st.Ended() {
		ended = ts(now)
	}
	inc := 0
	if st == Printing {
		inc = 1
	}
	res, err := ex.ExecContext(ctx, `UPDATE job_jobs SET state = ?, reason = ?, code = ?, updated_at = ?, ended_at = ?, attempts = attempts + ?
		WHERE id = ? AND state = ?`, st, d.Reason, d.Code, ts(now), ended, inc, jobID, from)
	if err != nil {
		return fmt.Errorf("jobqueue: job %s: set state %s: %w", jobID, st, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &TransitionError{JobID: jobID, From: from, To: st}
	}
	if err := q.report(ctx, ex, jobID, from, st, d); err != nil {
		return err
	}
	q.log.Info().Str("job", jobID).Str("from", string(from)).Str("to", string(st)).Str("printer", d.Printer).Msg("job state")
	return nil
}

// report writes the event and, where the centre wants to know, an outcome.
func (q *Queue) report(ctx context.Context, ex storage.Execer, jobID string, from, to State, d Detail) error {
	now := q.now()
	res, err := ex.ExecContext(ctx, `INSERT INTO job_events(job_id, from_state, to_state, reason, at) VALUES(?,?,?,?,?)`,
		jobID, from, to, d.Reason, ts(now))
	if err != nil {
		return fmt.Errorf("jobqueue: job %s: record event: %w", jobID, err)
	}
	seq, _ := res.LastInsertId()
	outcome := ""
	reason := d.Reason
	switch to {
	case Printed:
		outcome = "printed"
		if from == Uncertain {
			outcome = "uncertain_resolved"
			reason = "printed (confirmed by a person after a crash): " + reason
		}
	case SpoiledWaiting:
		outcome = "spoiled"
	case Cancelled:
		outcome = "cancelled"
	case Refused:
		outcome = "refused"
	case Failed:
		outcome = "failed"
	case Revoked:
		outcome = "revoked"
	}
	if outcome == "" {
		return nil
	}
	key := fmt.Sprintf("outcome:%s:%d", jobID, seq)
	body, err := json.Marshal(OutcomeItem{Key: key, JobID: jobID, Outcome: outcome, Reason: reason, Printer: d.Printer, UID: d.UID, At: now.UTC()})
	if err != nil {
		return err
	}
	if err := q.outbox.Enqueue(ctx, ex, KindOutcome, key, body); err != nil {
		return err
	}
	if to.Ended() {
		if _, err := ex.ExecContext(ctx, `UPDATE job_jobs SET outcome_key = ? WHERE id = ?`, key, jobID); err != nil {
			return err
		}
	}
	return nil
}

// Cancel ends a job that has not been printed, in the caller's transaction.
func (q *Queue) Cancel(ctx context.Context, ex storage.Execer, jobID, reason string) error {
	return q.SetState(ctx, ex, jobID, Cancelled, reason)
}

// RevokeResult says what a revocation did.
type RevokeResult string

const (
	RevokeDone    RevokeResult = "revoked"  // the job will not be printed
	RevokePending RevokeResult = "pending"  // not here yet; refused if it arrives
	RevokeTooLate RevokeResult = "too_late" // printing or printed: recorded and reported, not hidden
	RevokeNoop    RevokeResult = "noop"     // already ended without a card
)

// Revoke applies the centre's revocation of a job.
func (q *Queue) Revoke(ctx context.Context, jobID, reason string) (RevokeResult, error) {
	var r RevokeResult
	err := storage.InTx(ctx, q.db, func(tx *sql.Tx) error {
		var err error
		r, err = q.revokeTx(ctx, tx, jobID, reason)
		return err
	})
	return r, err
}

func (q *Queue) revokeTx(ctx context.Context, tx *sql.Tx, jobID, reason string) (RevokeResult, error) {
	now := q.now()
	var st State
	err := tx.QueryRowContext(ctx, `SELECT state FROM job_jobs WHERE id = ?`, jobID).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_revocations(job_id, status, at) VALUES(?, 'pending', ?) ON CONFLICT(job_id) DO NOTHING`, jobID, ts(now)); err != nil {
			return "", fmt.Errorf("jobqueue: record revocation of %s: %w", jobID, err)
		}
		q.log.Info().Str("job", jobID).Msg("revocation recorded for a job not yet received")
		return RevokePending, nil
	}
	if err != nil {
		return "", err
	}
	if CanMove(st, Revoked) {
		if err := q.SetState(ctx, tx, jobID, Revoked, reason); err != nil {
			return "", err
		}
		return RevokeDone, nil
	}
	if st == Printing || st == Uncertain || st == Printed {
		// Too late to stop silently: flag the job (the engine and the web
		// page show it), keep an event and tell the centre.
		var already sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT revoke_requested FROM job_jobs WHERE id = ?`, jobID).Scan(&already); err != nil {
			return "", err
		}
		if already.Valid {
			return RevokeTooLate, nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE job_jobs SET revoke_requested = ? WHERE id = ?`, ts(now), jobID); err != nil {
			return "", err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO job_events(job_id, from_state, to_state, reason, at) VALUES(?,?,?,?,?)`,
			jobID, st, st, "revocation arrived while "+string(st)+": "+reason, ts(now))
		if err != nil {
			return "", err
		}
		seq, _ := res.LastInsertId()
		key := fmt.Sprintf("outcome:%s:%d", jobID, seq)
		body, _ := json.Marshal(OutcomeItem{Key: key, JobID: jobID, Outcome: "revocation_late", Reason: "job was " + string(st) + " when the revocation arrived", At: now.UTC()})
		if err := q.outbox.Enqueue(ctx, tx, KindOutcome, key, body); err != nil {
			return "", err
		}
		q.log.Warn().Str("job", jobID).Str("state", string(st)).Msg("revocation arrived too late to stop the card; recorded and reported")
		return RevokeTooLate, nil
	}
	return RevokeNoop, nil
}

const metaCols = `id, batch, kind, reprint_of, recorded, template_id, template_sha, exp, size, state, reason, code, attempts, received_at, updated_at, ended_at, NOT EXISTS (SELECT 1 FROM job_data d WHERE d.job_id = job_jobs.id), revoke_requested IS NOT NULL`

func scanMeta(sc interface{ Scan(...any) error }) (JobMeta, error) {
	var m JobMeta
	var rec, recv, upd, end sql.NullString
	var exp int64
	err := sc.Scan(&m.ID, &m.Batch, &m.Kind, &m.ReprintOf, &rec, &m.Template.ID, &m.Template.SHA256, &exp, &m.Size, &m.State, &m.Reason, &m.Code, &m.Attempts, &recv, &upd, &end, &m.Purged, &m.RevokeRequested)
	if err != nil {
		return m, err
	}
	m.Recorded, m.ReceivedAt, m.UpdatedAt, m.EndedAt = parseTS(rec), parseTS(recv), parseTS(upd), parseTS(end)
	if exp != 0 {
		m.NotAfter = time.Unix(exp, 0).UTC()
	}
	return m, nil
}

// Meta returns one job's metadata.
func (q *Queue) Meta(ctx context.Context, jobID string) (JobMeta, error) {
	m, err := scanMeta(q.db.QueryRowContext(ctx, `SELECT `+metaCols+` FROM job_jobs WHERE id = ?`, jobID))
	if errors.Is(err, sql.ErrNoRows) {
		return JobMeta{}, fmt.Errorf("jobqueue: job %s: %w", jobID, ErrNotFound)
	}
	return m, err
}

// Jobs lists a batch's jobs in recording-date order (the order to print
// them), optionally only those in the given states. An empty batchID lists
// all batches.
func (q *Queue) Jobs(ctx context.Context, batchID string, states ...State) ([]JobMeta, error) {
	query := `SELECT ` + metaCols + ` FROM job_jobs WHERE (? = '' OR batch = ?)`
	args := []any{batchID, batchID}
	if len(states) > 0 {
		query += ` AND state IN (` + strings.TrimSuffix(strings.Repeat("?,", len(states)), ",") + `)`
		for _, s := range states {
			args = append(args, s)
		}
	}
	query += ` ORDER BY recorded, id`
	return q.metas(ctx, query, args...)
}

// Queued returns up to limit of a batch's queued jobs, first to print first
// (the order of Jobs). The engine claims its next job from these, for every
// card: Jobs would read the whole batch (and, through its "all batches"
// form, the whole table) each time.
func (q *Queue) Queued(ctx context.Context, batchID string, limit int) ([]JobMeta, error) {
	return q.metas(ctx, `SELECT `+metaCols+` FROM job_jobs WHERE batch = ? AND state = ? ORDER BY recorded, id LIMIT ?`, batchID, Queued, limit)
}

// Batches lists the batches the station holds, oldest recording first.
func (q *Queue) Batches(ctx context.Context) ([]Batch, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT batch, state, count(*), min(recorded), max(received_at) FROM job_jobs GROUP BY batch, state`)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: list batches: %w", err)
	}
	defer rows.Close()
	idx := map[string]*Batch{}
	var order []string
	for rows.Next() {
		var id string
		var st State
		var n int
		var first, last sql.NullString
		if err := rows.Scan(&id, &st, &n, &first, &last); err != nil {
			return nil, err
		}
		b := idx[id]
		if b == nil {
			b = &Batch{ID: id, ByState: map[State]int{}}
			idx[id] = b
			order = append(order, id)
		}
		b.Total += n
		b.ByState[st] += n
		if f := parseTS(first); b.FirstRecorded.IsZero() || f.Before(b.FirstRecorded) {
			b.FirstRecorded = f
		}
		if l := parseTS(last); l.After(b.LastReceived) {
			b.LastReceived = l
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Batch, 0, len(order))
	for _, id := range order {
		out = append(out, *idx[id])
	}
	sortBatches(out)
	return out, nil
}

func sortBatches(b []Batch) {
	for i := 1; i < len(b); i++ {
		for j := i; j > 0 && (b[j].FirstRecorded.Before(b[j-1].FirstRecorded) ||
			(b[j].FirstRecorded.Equal(b[j-1].FirstRecorded) && b[j].ID < b[j-1].ID)); j-- {
			b[j], b[j-1] = b[j-1], b[j]
		}
	}
}

// Load returns a job with its decrypted personal data.
func (q *Queue) Load(ctx context.Context, jobID string) (*Job, error) {
	var blob []byte
	var st State
	err := q.db.QueryRowContext(ctx, `SELECT d.blob, j.state FROM job_jobs j LEFT JOIN job_data d ON d.job_id = j.id WHERE j.id = ?`, jobID).Scan(&blob, &st)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("jobqueue: job %s: %w", jobID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("jobqueue: load job %s: %w", jobID, err)
	}
	if blob == nil {
		return nil, fmt.Errorf("jobqueue: job %s (%s): %w", jobID, st, ErrPurged)
	}
	plain, err := q.seal.open(jobID, blob)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: job %s: %w", jobID, err)
	}
	j := &Job{State: st}
	if err := json.Unmarshal(plain, &j.Payload); err != nil {
		return nil, fmt.Errorf("jobqueue: job %s: stored data unreadable: %s", jobID, scrubJSONErr(err))
	}
	j.Recorded = j.Recorded.UTC()
	return j, nil
}

// Window is how much the station holds that has not yet gone to a printer.
type Window struct {
	Jobs  int
	Bytes int64
}

// Pending reports the prefetch window's fill: jobs received or queued.
func (q *Queue) Pending(ctx context.Context) (Window, error) {
	var w Window
	err := q.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM job_jobs WHERE state IN (?, ?)`, Received, Queued).Scan(&w.Jobs, &w.Bytes)
	if err != nil {
		return w, fmt.Errorf("jobqueue: count pending jobs: %w", err)
	}
	return w, nil
}

// TemplateBytes returns a cached template's exact bytes by id and SHA-256.
func (q *Queue) TemplateBytes(ctx context.Context, id, hash string) ([]byte, error) {
	var body []byte
	err := q.db.QueryRowContext(ctx, `SELECT body FROM job_templates WHERE sha256 = ? AND id = ?`, strings.ToLower(hash), id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("jobqueue: template %s (%.12s): %w", id, hash, ErrTemplateMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("jobqueue: template %s: %w", id, err)
	}
	return body, nil
}

// ErrTemplateMissing: the template is not cached yet (the syncer fetches it).
var ErrTemplateMissing = errors.New("template not on this station yet")

// ErrTemplateHash: fetched bytes do not match the hash the job names.
var ErrTemplateHash = errors.New("template bytes do not match the job's sha256")

// PutTemplate caches a template's bytes under its SHA-256 and makes the jobs
// that waited for it printable. want is the hash the jobs name.
func (q *Queue) PutTemplate(ctx context.Context, id, want string, body []byte) error {
	sum := sha256.Sum256(body)
	got := hex.EncodeToString(sum[:])
	if !strings.EqualFold(got, want) {
		return fmt.Errorf("jobqueue: template %s: %w (got %.12s, want %.12s); the centre serves a different version than it signed", id, ErrTemplateHash, got, want)
	}
	if err := q.checkTemplate(body); err != nil {
		return fmt.Errorf("jobqueue: template %s: %w: %w", id, ErrTemplateUnusable, err)
	}
	return storage.InTx(ctx, q.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_templates(sha256, id, body, fetched_at) VALUES(?,?,?,?) ON CONFLICT(sha256) DO NOTHING`, got, id, body, ts(q.now())); err != nil {
			return fmt.Errorf("jobqueue: store template %s: %w", id, err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM job_jobs WHERE state = ? AND template_sha = ?`, Received, got)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var j string
			if err := rows.Scan(&j); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, j)
		}
		rows.Close()
		for _, j := range ids {
			if err := q.SetState(ctx, tx, j, Queued, "template available"); err != nil {
				return err
			}
		}
		return nil
	})
}

// ErrTemplateUnusable: the bytes match the hash but are not a card template.
var ErrTemplateUnusable = errors.New("template is not usable")

// RefuseForTemplate refuses every received job that waits for template t,
// because it cannot be had (cause says why); each refusal is reported to the
// centre with code bad_template. It returns how many jobs it refused.
func (q *Queue) RefuseForTemplate(ctx context.Context, t TemplateRef, cause error) (int, error) {
	reason := fmt.Sprintf("%s: template %s (sha256 %.12s) cannot be used: %v", CodeBadTemplate, t.ID, t.SHA256, cause)
	if len(reason) > 400 {
		reason = reason[:400]
	}
	var n int
	err := storage.InTx(ctx, q.db, func(tx *sql.Tx) error {
		ids, err := queryIDs(ctx, tx, `SELECT id FROM job_jobs WHERE state = ? AND template_sha = ?`, Received, strings.ToLower(t.SHA256))
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := q.SetState(ctx, tx, id, Refused, reason); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE job_jobs SET code = ? WHERE id = ?`, CodeBadTemplate, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("jobqueue: refuse jobs of template %s: %w", t.ID, err)
	}
	return n, nil
}

// MissingTemplates lists the templates that received jobs wait for.
func (q *Queue) MissingTemplates(ctx context.Context) ([]TemplateRef, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT DISTINCT template_id, template_sha FROM job_jobs
		WHERE state = ? AND template_sha NOT IN (SELECT sha256 FROM job_templates)`, Received)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: missing templates: %w", err)
	}
	defer rows.Close()
	var out []TemplateRef
	for rows.Next() {
		var t TemplateRef
		if err := rows.Scan(&t.ID, &t.SHA256); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// purgeReady selects the ended jobs whose outcome the centre acknowledged
// at or before ? and whose personal data is still held. It reads from the
// ended jobs not yet purged (the partial index job_jobs_unpurged: the jobs
// whose outcome awaits its acknowledgement or the retention, and refused
// jobs, which never had data), then looks each one's
// outbox item and data up by key; CROSS JOIN keeps SQLite to that order.
// Read the other way round — every acknowledged item ever, every ended job
// ever — each purge grew with the station's whole history, and the syncer
// purges after each push, about once a card.
const purgeReady = `SELECT j.id FROM job_jobs j
	CROSS JOIN outbox_items o ON o.key = j.outcome_key
	CROSS JOIN job_data d ON d.job_id = j.id
	WHERE j.ended_at IS NOT NULL AND j.purged_at IS NULL
	AND o.acked_at IS NOT NULL AND o.acked_at <= ?`

// Purge deletes the personal data of jobs that ended and whose outcome the
// centre acknowledged (longer ago than the retention). The rows keep id,
// batch, state, times and reason. It overwrites freed pages
// (secure_delete) so the ciphertext does not linger in the file.
func (q *Queue) Purge(ctx context.Context) (int, error) {
	now := q.now()
	cutoff := ts(now.Add(-q.opts.Retention))
	// Nothing to purge (the syncer asks each time it has sent everything):
	// a read, no write transaction and its commit.
	var some bool
	if err := q.db.QueryRowContext(ctx, `SELECT EXISTS(`+purgeReady+`)`, cutoff).Scan(&some); err != nil {
		return 0, fmt.Errorf("jobqueue: purge: %w", err)
	}
	if !some {
		return 0, nil
	}
	conn, err := q.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return 0, fmt.Errorf("jobqueue: purge: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA secure_delete = OFF`)
	var n int64
	err = func() error {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		// The jobs first, then each one marked and its data deleted: the
		// selection itself excludes jobs marked purged.
		ids, err := queryIDs(ctx, tx, purgeReady, cutoff)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE job_jobs SET purged_at = ? WHERE id = ?`, ts(now), id); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM job_data WHERE job_id = ?`, id)
			if err != nil {
				return err
			}
			d, _ := res.RowsAffected()
			n += d
		}
		return tx.Commit()
	}()
	if err != nil {
		return 0, fmt.Errorf("jobqueue: purge: %w", err)
	}
	if n > 0 {
		q.log.Info().Int64("jobs", n).Msg("personal data purged")
	}
	return int(n), nil
}

// queryIDs reads a query's single text column to the end: the rows are
// closed before the caller writes in the same transaction.
func queryIDs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
