package storage

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStatements: one card's kind of transaction (an insert, two
// updates by key, two reads by key) on connections that keep their
// statements (Open) against the driver preparing each one every time
// (sql.Open with the same settings), alternated in one run. cpu-µs/op is
// this process's CPU (getrusage), not the wall time the fsyncs take.
//
//	go test ./storage -run '^$' -bench Statements -benchtime 400x -count 5
func BenchmarkStatements(b *testing.B) {
	ctx := context.Background()
	open := map[string]func(path string) (*sql.DB, error){
		"kept": func(path string) (*sql.DB, error) { return Open(ctx, path) },
		"each-time": func(path string) (*sql.DB, error) {
			q := url.Values{}
			for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)", "busy_timeout(10000)"} {
				q.Add("_pragma", p)
			}
			q.Set("_txlock", "immediate")
			return sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		},
	}
	for _, name := range []string{"kept", "each-time"} {
		b.Run(name, func(b *testing.B) {
			db, err := open[name](filepath.Join(b.TempDir(), "b.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(ctx, `CREATE TABLE jobs(id TEXT PRIMARY KEY, state TEXT NOT NULL, n INTEGER NOT NULL, at TEXT NOT NULL);
				CREATE TABLE events(seq INTEGER PRIMARY KEY, job TEXT NOT NULL, what TEXT NOT NULL, at TEXT NOT NULL);
				CREATE INDEX events_job ON events(job, seq);`); err != nil {
				b.Fatal(err)
			}
			c0 := cpuNow()
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprintf("J-%08d", i)
				err := InTx(ctx, db, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO jobs(id, state, n, at) VALUES(?,?,?,?)`, id, "queued", 0, "2026-12-01T00:00:00Z"); err != nil {
						return err
					}
					var st string
					if err := tx.QueryRowContext(ctx, `SELECT state FROM jobs WHERE id = ?`, id).Scan(&st); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, n = n + 1, at = ? WHERE id = ? AND state = ?`, "printed", "2026-12-01T00:00:01Z", id, st); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `INSERT INTO events(job, what, at) VALUES(?,?,?)`, id, "printed", "2026-12-01T00:00:01Z"); err != nil {
						return err
					}
					var n int
					return tx.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE job = ?`, id).Scan(&n)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuNow()-c0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
