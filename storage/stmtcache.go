package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"reflect"
	"sync"
)

// The station runs the same few dozen statements for every card (the job's
// claim and state, the ledger append, the intent, the outbox). Through
// database/sql each ExecContext/QueryContext made the driver parse and plan
// its SQL again (sqlite3_prepare_v2) and free it after: ≈ 5 % of the
// daemon's CPU per card. Each connection here keeps its prepared statements
// by SQL text and runs them again (reset, new bindings): the same statement,
// the same results, without the parse. SQLite re-prepares a kept statement
// by itself when the schema changed under it (sqlite3_prepare_v2's
// SQLITE_SCHEMA handling), so a migration never runs against a stale plan.

// stmtCacheSize bounds the statements kept per connection; the station's
// own are far fewer, and SQL built per call (a search with a variable list)
// cannot grow the cache without bound.
const stmtCacheSize = 128

// baseDriver is modernc's registered "sqlite" driver (sql.Open connects to
// nothing, so this opens no database).
var baseDriver = func() driver.Driver {
	db, err := sql.Open("sqlite", "")
	if err != nil {
		panic("storage: the sqlite driver is not registered: " + err.Error())
	}
	defer db.Close()
	return db.Driver()
}()

// openCached opens a pool whose connections keep their prepared statements.
func openCached(dsn string) *sql.DB {
	return sql.OpenDB(connector{dsn: dsn})
}

type connector struct{ dsn string }

func (c connector) Connect(context.Context) (driver.Conn, error) {
	dc, err := baseDriver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newCachedConn(dc), nil
}

func (c connector) Driver() driver.Driver { return baseDriver }

// conn is the interface set the station uses of modernc's connection.
type conn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
}

// cachedStmt is one kept statement; busy while a Rows reads from it (the
// same SQL asked again meanwhile, e.g. inside the loop over its rows, gets
// a statement of its own, not kept).
type cachedStmt struct {
	s    driver.Stmt
	busy bool
}

type cachedConn struct {
	c     conn
	mu    sync.Mutex
	stmts map[string]*cachedStmt
	order []string // insertion order, for eviction
}

func newCachedConn(dc driver.Conn) driver.Conn {
	c, ok := dc.(conn)
	if !ok {
		return dc // not the driver this was written for: no cache
	}
	return &cachedConn{c: c, stmts: map[string]*cachedStmt{}}
}

// take returns a kept statement for query, preparing and keeping one when
// there is none; kept reports whether it belongs to the cache (and must be
// given back), else the caller closes it.
func (c *cachedConn) take(ctx context.Context, query string) (cs *cachedStmt, kept bool, err error) {
	c.mu.Lock()
	cs = c.stmts[query]
	if cs != nil && !cs.busy {
		cs.busy = true
		c.mu.Unlock()
		return cs, true, nil
	}
	inUse := cs != nil
	c.mu.Unlock()
	s, err := c.c.PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	cs = &cachedStmt{s: s, busy: true}
	if inUse {
		return cs, false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.stmts) >= stmtCacheSize {
		c.evictLocked()
	}
	if len(c.stmts) >= stmtCacheSize {
		return cs, false, nil // every kept one is busy
	}
	c.stmts[query] = cs
	c.order = append(c.order, query)
	return cs, true, nil
}

// evictLocked closes the oldest kept statement that is not in use.
func (c *cachedConn) evictLocked() {
	for i, q := range c.order {
		cs := c.stmts[q]
		if cs == nil || cs.busy {
			continue
		}
		cs.s.Close()
		delete(c.stmts, q)
		c.order = append(c.order[:i:i], c.order[i+1:]...)
		return
	}
}

// give returns a statement after use. A statement whose use failed is
// dropped from the cache and closed: it is prepared afresh next time.
func (c *cachedConn) give(query string, cs *cachedStmt, kept bool, failed bool) {
	if !kept {
		cs.s.Close()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cs.busy = false
	if failed {
		if c.stmts[query] == cs {
			delete(c.stmts, query)
			for i, q := range c.order {
				if q == query {
					c.order = append(c.order[:i:i], c.order[i+1:]...)
					break
				}
			}
		}
		cs.s.Close()
	}
}

func (c *cachedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, kept, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	r, err := cs.s.(driver.StmtExecContext).ExecContext(ctx, args)
	c.give(query, cs, kept, err != nil)
	return r, err
}

func (c *cachedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, kept, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := cs.s.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.give(query, cs, kept, true)
		return nil, err
	}
	return &cachedRows{Rows: rows, done: func(failed bool) { c.give(query, cs, kept, failed) }}, nil
}

func (c *cachedConn) Prepare(query string) (driver.Stmt, error) { return c.c.Prepare(query) }
func (c *cachedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.c.PrepareContext(ctx, query)
}
func (c *cachedConn) Begin() (driver.Tx, error) { return c.c.Begin() } //nolint:staticcheck // driver.Conn requires it
func (c *cachedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.c.BeginTx(ctx, opts)
}

// Close finalizes every kept statement, then closes the connection (SQLite
// refuses to close a connection with statements left).
func (c *cachedConn) Close() error {
	c.mu.Lock()
	for q, cs := range c.stmts {
		cs.s.Close()
		delete(c.stmts, q)
	}
	c.order = nil
	c.mu.Unlock()
	return c.c.Close()
}

func (c *cachedConn) Ping(ctx context.Context) error {
	if p, ok := c.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachedConn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// cachedRows gives its statement back when closed, and passes on the
// column type methods of the driver's rows.
type cachedRows struct {
	driver.Rows
	done   func(failed bool)
	closed bool
}

func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.done(err != nil)
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
