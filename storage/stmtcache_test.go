package storage

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

func openTest(t *testing.T) *sql.DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing the pool with kept statements: %v", err)
		}
	})
	db.SetMaxOpenConns(1) // one connection: what it keeps is what the test sees
	return db
}

// kept returns the connection's kept statement for query (nil if none).
func kept(t *testing.T, db *sql.DB, query string) *cachedStmt {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var cs *cachedStmt
	err = c.Raw(func(dc any) error {
		cc, ok := dc.(*cachedConn)
		if !ok {
			return fmt.Errorf("the pool's connection is %T, not the caching one", dc)
		}
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if len(cc.stmts) > stmtCacheSize || len(cc.order) != len(cc.stmts) {
			return fmt.Errorf("cache holds %d statements, %d in order; bound %d", len(cc.stmts), len(cc.order), stmtCacheSize)
		}
		cs = cc.stmts[query]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestStatementsKept: the same SQL runs on the same prepared statement the
// second time (Exec, Query, inside a transaction), with fresh arguments.
func TestStatementsKept(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const ins = `INSERT INTO t (k, v) VALUES (?, ?)`
	const sel = `SELECT v FROM t WHERE k = ?`
	if _, err := db.ExecContext(ctx, ins, 1, "one"); err != nil {
		t.Fatal(err)
	}
	first := kept(t, db, ins)
	if first == nil {
		t.Fatal("the insert's statement was not kept")
	}
	if err := InTx(ctx, db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, ins, 2, "two")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if kept(t, db, ins) != first {
		t.Error("the second insert prepared a new statement")
	}
	for k, want := range map[int]string{1: "one", 2: "two"} {
		var v string
		if err := db.QueryRowContext(ctx, sel, k).Scan(&v); err != nil || v != want {
			t.Errorf("row %d: %q, %v; want %q", k, v, err, want)
		}
	}
	s := kept(t, db, sel)
	if s == nil || s.busy {
		t.Fatalf("the select's statement: %+v; want kept and free", s)
	}
	var v string
	if err := db.QueryRowContext(ctx, sel, 2).Scan(&v); err != nil || v != "two" {
		t.Fatalf("%q, %v", v, err)
	}
	if kept(t, db, sel) != s {
		t.Error("the second select prepared a new statement")
	}
}

// TestKeptStatementsStayCorrect: the same SQL inside the loop over its own
// rows, a failed statement then a good one, a rolled-back transaction, a
// schema change under a kept statement, and more distinct SQL than the
// bound.
func TestKeptStatementsStayCorrect(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const ins = `INSERT INTO t (k, v) VALUES (?, ?)`
	for k := 1; k <= 3; k++ {
		if _, err := db.ExecContext(ctx, ins, k, fmt.Sprint("v", k)); err != nil {
			t.Fatal(err)
		}
	}
	// A constraint failure, then the same statement again.
	if _, err := db.ExecContext(ctx, ins, 1, "dup"); err == nil {
		t.Fatal("a duplicate key was accepted")
	}
	if _, err := db.ExecContext(ctx, ins, 4, "v4"); err != nil {
		t.Fatalf("the statement after a failure: %v", err)
	}
	// The same query inside the loop over its rows (one connection: a tx).
	const sel = `SELECT k, v FROM t WHERE k >= ? ORDER BY k`
	err := InTx(ctx, db, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, sel, 1)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var k int
			var v string
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			inner, err := tx.QueryContext(ctx, sel, k)
			if err != nil {
				return err
			}
			m := 0
			for inner.Next() {
				m++
			}
			inner.Close()
			if want := 4 - k + 1; m != want {
				return fmt.Errorf("inner query from %d: %d rows, want %d", k, m, want)
			}
			n++
		}
		if n != 4 {
			return fmt.Errorf("outer query: %d rows, want 4", n)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	// A rolled-back transaction leaves nothing.
	_ = InTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, ins, 5, "v5"); err != nil {
			return err
		}
		return fmt.Errorf("roll back")
	})
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("rows after a rollback: %d, %v; want 4", n, err)
	}
	// A schema change under a kept SELECT *.
	const all = `SELECT * FROM t WHERE k = 1`
	cols := func() int {
		rows, err := db.QueryContext(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, _ := rows.Columns()
		return len(c)
	}
	if c := cols(); c != 2 {
		t.Fatalf("%d columns", c)
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w TEXT`); err != nil {
		t.Fatal(err)
	}
	if c := cols(); c != 3 {
		t.Errorf("after ALTER TABLE the kept statement gives %d columns; want 3", c)
	}
	// More distinct SQL than the bound: still right, still bounded.
	for i := 0; i < stmtCacheSize+20; i++ {
		var k int
		if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT k + %d FROM t WHERE k = 1`, i)).Scan(&k); err != nil || k != 1+i {
			t.Fatalf("query %d: %d, %v", i, k, err)
		}
	}
	kept(t, db, "") // checks the bound
}
