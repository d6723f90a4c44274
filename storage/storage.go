// Package storage opens the station's single SQLite database with the
// durability settings every package relies on. Each package owns its own
// tables and creates them with its own migration; they share one file so that
// a job's state change and the blank it consumed commit in one transaction.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Open opens (creating if needed) the database at path in WAL mode with
// synchronous=FULL, foreign keys on and a busy timeout, and checks that it
// answers. The returned pool serialises writers: SQLite allows one at a time.
// Its connections keep their prepared statements (stmtcache.go).
func Open(ctx context.Context, path string) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"foreign_keys(ON)",
		"busy_timeout(10000)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db := openCached("file:" + path + "?" + q.Encode())
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: open %s: %w (check that the storage directory exists and is writable by the service user)", path, err)
	}
	return db, nil
}

// OpenReadOnly opens a database file for auditors without writing to it: no
// WAL checkpoint, no schema change. It works on a copy with no daemon running.
func OpenReadOnly(ctx context.Context, path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db := openCached("file:" + path + "?" + q.Encode())
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: open %s read-only: %w", path, err)
	}
	return db, nil
}

// Execer is what a package's writes need: a *sql.DB or a *sql.Tx, so the
// caller chooses whether they share a transaction with other packages' writes.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// InTx runs fn in one transaction and commits it, or rolls back on error.
func InTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storage: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	return nil
}
