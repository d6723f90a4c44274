package jobqueue

// Finding a citizen's card at the counter: "is my e-KTP printed?" The
// personal data is encrypted at rest and purged after the outcome is
// acknowledged, so the station keeps, per job, a keyed hash of the
// normalised NIK: HMAC-SHA256 under a key derived (HKDF) from the data key.
// Without the data key the index says nothing (a 16-digit NIK could be
// brute-forced from a plain hash, not from a keyed one). The index row is
// not personal data in the clear and outlives the purge, so "was it
// printed, when, where" can be answered for as long as the job row exists.
// Names are searched only among the jobs that still hold their data, by
// decrypting them; no name index is kept.

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"printstation/storage"
)

const nikSchema = `
CREATE TABLE IF NOT EXISTS job_nik_index(
	job_id TEXT PRIMARY KEY,
	nik_mac BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS job_nik_index_mac ON job_nik_index(nik_mac);
-- The queue of the day reads the jobs changed since midnight.
CREATE INDEX IF NOT EXISTS job_jobs_updated ON job_jobs(updated_at);
`

// NIKField is the job field that holds the citizen's NIK; NameField the name.
const (
	NIKField  = "nik"
	NameField = "nama"
)

// ErrNotNIK means a search text is not a NIK (16 digits).
var ErrNotNIK = errors.New("not a NIK: a NIK has 16 digits")

// NormalizeNIK keeps the 16 digits of a NIK as people write it (with
// spaces, dots or dashes between groups).
func NormalizeNIK(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '.' || r == '-' || r == '\t':
		default:
			return "", ErrNotNIK
		}
	}
	if b.Len() != 16 {
		return "", ErrNotNIK
	}
	return b.String(), nil
}

func (q *Queue) nikMAC(nik string) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, q.opts.DataKey, nil, "printstation job NIK index v1", 32)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: NIK index key: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(nik))
	return m.Sum(nil), nil
}

// indexNIK records the keyed hash of a job's NIK in the caller's
// transaction. A job without a well-formed NIK is simply not indexed.
func (q *Queue) indexNIK(ctx context.Context, ex storage.Execer, jobID string, fields map[string]string) error {
	nik, err := NormalizeNIK(fields[NIKField])
	if err != nil {
		return nil
	}
	mac, err := q.nikMAC(nik)
	if err != nil {
		return err
	}
	if _, err := ex.ExecContext(ctx, `INSERT INTO job_nik_index(job_id, nik_mac) VALUES(?, ?) ON CONFLICT(job_id) DO NOTHING`, jobID, mac); err != nil {
		return fmt.Errorf("jobqueue: index job %s: %w", jobID, err)
	}
	return nil
}

// indexExisting indexes the jobs stored before the index existed (those
// that still hold their data; purged ones cannot be indexed any more).
func (q *Queue) indexExisting(ctx context.Context) error {
	rows, err := q.db.QueryContext(ctx, `SELECT d.job_id, d.blob FROM job_data d WHERE d.job_id NOT IN (SELECT job_id FROM job_nik_index)`)
	if err != nil {
		return fmt.Errorf("jobqueue: index existing jobs: %w", err)
	}
	type row struct {
		id   string
		blob []byte
	}
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.blob); err != nil {
			rows.Close()
			return err
		}
		todo = append(todo, r)
	}
	rows.Close()
	for _, r := range todo {
		p, err := q.openPayload(r.id, r.blob)
		if err != nil {
			// A row the key does not open is Load's error to report.
			continue
		}
		if err := q.indexNIK(ctx, q.db, r.id, p.Fields); err != nil {
			return err
		}
	}
	return nil
}

func (q *Queue) openPayload(jobID string, blob []byte) (*Payload, error) {
	plain, err := q.seal.open(jobID, blob)
	if err != nil {
		return nil, err
	}
	var p Payload
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, fmt.Errorf("jobqueue: job %s: stored data unreadable: %s", jobID, scrubJSONErr(err))
	}
	return &p, nil
}

// FindByNIK lists the jobs for a NIK, oldest first, purged ones included.
func (q *Queue) FindByNIK(ctx context.Context, nik string) ([]JobMeta, error) {
	n, err := NormalizeNIK(nik)
	if err != nil {
		return nil, err
	}
	mac, err := q.nikMAC(n)
	if err != nil {
		return nil, err
	}
	return q.metas(ctx, `SELECT `+metaCols+` FROM job_jobs WHERE id IN (SELECT job_id FROM job_nik_index WHERE nik_mac = ?) ORDER BY received_at, id`, mac)
}

// NameHit is a job found by name, with the name as the centre sent it.
type NameHit struct {
	JobMeta
	Name string
}

// MaxNameScan bounds a name search: the jobs that hold data are the
// prefetch window and the retention, far below this.
const MaxNameScan = 20000

// FindByName lists up to limit jobs still holding their data whose name
// contains every word of name (case and spacing ignored). It decrypts each
// job's data; nothing is written.
func (q *Queue) FindByName(ctx context.Context, name string, limit int) ([]NameHit, error) {
	words := strings.Fields(strings.ToUpper(name))
	letters := 0
	for _, w := range words {
		for _, r := range w {
			if unicode.IsLetter(r) {
				letters++
			}
		}
	}
	if letters < 3 {
		return nil, ErrShortName
	}
	rows, err := q.db.QueryContext(ctx, `SELECT d.job_id, d.blob FROM job_data d JOIN job_jobs j ON j.id = d.job_id ORDER BY j.received_at DESC, j.id LIMIT ?`, MaxNameScan)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: search by name: %w", err)
	}
	var ids []string
	names := map[string]string{}
	for rows.Next() {
		var id string
		var blob []byte
		if err := rows.Scan(&id, &blob); err != nil {
			rows.Close()
			return nil, err
		}
		p, err := q.openPayload(id, blob)
		if err != nil {
			continue
		}
		have := strings.Join(strings.Fields(strings.ToUpper(p.Fields[NameField])), " ")
		match := have != ""
		for _, w := range words {
			match = match && strings.Contains(have, w)
		}
		if match {
			ids = append(ids, id)
			names[id] = p.Fields[NameField]
			if len(ids) >= limit {
				break
			}
		}
	}
	rows.Close()
	var out []NameHit
	for _, id := range ids {
		m, err := q.Meta(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, NameHit{JobMeta: m, Name: names[id]})
	}
	return out, nil
}

// ErrShortName means a name search has fewer than 3 letters.
var ErrShortName = errors.New("a name search needs at least 3 letters")

func (q *Queue) metas(ctx context.Context, query string, args ...any) ([]JobMeta, error) {
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: list jobs: %w", err)
	}
	defer rows.Close()
	var out []JobMeta
	for rows.Next() {
		m, err := scanMeta(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Reprints lists the jobs that reprint jobID.
func (q *Queue) Reprints(ctx context.Context, jobID string) ([]JobMeta, error) {
	return q.metas(ctx, `SELECT `+metaCols+` FROM job_jobs WHERE reprint_of = ? ORDER BY received_at, id`, jobID)
}

// JobsSince lists up to limit jobs received or changed since t, newest
// change first (the queue of the day).
func (q *Queue) JobsSince(ctx context.Context, t time.Time, limit int) ([]JobMeta, error) {
	return q.metas(ctx, `SELECT `+metaCols+` FROM job_jobs WHERE updated_at >= ? OR received_at >= ? ORDER BY updated_at DESC, id LIMIT ?`, ts(t), ts(t), limit)
}

// JobEvent is one step of a job's life at this station.
type JobEvent struct {
	From, To State
	Reason   string // English, for the CLI and the journal
	At       time.Time
}

// History lists a job's state changes, oldest first.
func (q *Queue) History(ctx context.Context, jobID string) ([]JobEvent, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT from_state, to_state, reason, at FROM job_events WHERE job_id = ? ORDER BY seq`, jobID)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: history of %s: %w", jobID, err)
	}
	defer rows.Close()
	var out []JobEvent
	for rows.Next() {
		var e JobEvent
		var at sql.NullString
		if err := rows.Scan(&e.From, &e.To, &e.Reason, &at); err != nil {
			return nil, err
		}
		e.At = parseTS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Reported says when the centre acknowledged each outcome of a job.
func (q *Queue) Reported(ctx context.Context, jobID string) ([]time.Time, error) {
	// The keys "outcome:<job>:<seq>" of this job sort between these two
	// (';' follows ':'), so the key's unique index answers.
	lo, hi := "outcome:"+jobID+":", "outcome:"+jobID+";"
	rows, err := q.db.QueryContext(ctx, `SELECT key, acked_at FROM outbox_items WHERE key >= ? AND key < ? AND acked_at IS NOT NULL ORDER BY seq`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: reports of %s: %w", jobID, err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var key string
		var at sql.NullString
		if err := rows.Scan(&key, &at); err != nil {
			return nil, err
		}
		if strings.ContainsFunc(key[len(lo):], func(r rune) bool { return r < '0' || r > '9' }) {
			continue // another job whose id goes on with ':'
		}
		out = append(out, parseTS(at))
	}
	return out, rows.Err()
}
