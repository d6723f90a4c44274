package inventory

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/storage"
)

// VerifyOptions say what an auditor trusts.
type VerifyOptions struct {
	// Keys verify checkpoint signatures. When empty, the station keys stored
	// in the database are used: that proves the file is consistent with
	// itself, not that it came from the station. An auditor who got the
	// station's vkey from the centre passes it here and it overrides.
	Keys []note.Verifier
	// CentreKey, when set, must verify every cosigned checkpoint stored.
	CentreKey note.Verifier
	// MaxProblems caps the list (0: 100); Problems beyond are only counted.
	MaxProblems int
	// AllStoredHashes compares every stored tree hash with the tree rebuilt
	// from the rows. Without it, only the hashes a verified signature does
	// not already vouch for are compared: those after the largest signed
	// checkpoint that the rows reproduce (where they name a changed, added
	// or missing row), and the few hashes future appends build on. A
	// signed root the rows reproduce already proves every row before it;
	// the stored hashes below it are the ledger's working copy.
	AllStoredHashes bool
	// Centre, when set, is the centre's record of what it witnessed for
	// this station (its export). Every checkpoint it cosigned in this
	// database's enrolment epoch must be reproduced by the events, and the
	// database must be of the centre's latest epoch: a rewritten, forked,
	// truncated or replaced database fails, naming the checkpoint.
	Centre *CentreExport
}

// Problem is one thing verify found wrong. Seq is the event it concerns, or
// -1 when it concerns no single event.
type Problem struct {
	Seq  int64  `json:"seq"`
	What string `json:"what"`
}

func (p Problem) String() string {
	if p.Seq < 0 {
		return p.What
	}
	return fmt.Sprintf("event seq %d: %s", p.Seq, p.What)
}

// VerifyReport is what verify found.
type VerifyReport struct {
	Station            string    `json:"station"`
	Events             int64     `json:"events"`
	Checkpoints        int       `json:"checkpoints"`
	Cosigned           int       `json:"cosigned"`
	CentreChecked      int       `json:"centre_checkpoints_checked,omitempty"`
	Epoch              int64     `json:"enrolment_epoch,omitempty"`
	LastCheckpoint     int64     `json:"last_checkpoint_size"`
	UncheckpointedTail int64     `json:"events_after_last_checkpoint"`
	KeySource          string    `json:"key_source"`
	JobsChecked        bool      `json:"jobs_checked"`
	JobsNote           string    `json:"jobs_note,omitempty"`
	Stock              Stock     `json:"stock"`
	Problems           []Problem `json:"problems"`
	// Warnings do not fail verify: facts an auditor should weigh.
	Warnings []string `json:"warnings,omitempty"`
	// WarningCodes names each warning's kind (WarnTail, ...), index for
	// index, so that a page can say it in its reader's language from the
	// report's own figures.
	WarningCodes []string `json:"warning_codes,omitempty"`
	MoreProblems int      `json:"more_problems,omitempty"`
}

// OK reports whether nothing was found wrong.
// Kinds of warning (VerifyReport.WarningCodes).
const (
	WarnNoDayTotals   = "no_day_totals"   // ledger_days missing: an older database
	WarnNoCheckpoint  = "no_checkpoint"   // no signed checkpoint covers any event (Events says how many)
	WarnTail          = "tail"            // UncheckpointedTail events after LastCheckpoint wait for a checkpoint
	WarnKeyFromRecord = "key_from_record" // the centre's key was taken from its own record
	WarnReenrolled    = "reenrolled"      // the station was re-enrolled (the text has the details)
)

func (r *VerifyReport) warn(code, text string) {
	r.Warnings = append(r.Warnings, text)
	r.WarningCodes = append(r.WarningCodes, code)
}

func (r *VerifyReport) OK() bool { return len(r.Problems) == 0 && r.MoreProblems == 0 }

func (r *VerifyReport) add(max int, seq int64, format string, args ...any) {
	if len(r.Problems) >= max {
		r.MoreProblems++
		return
	}
	r.Problems = append(r.Problems, Problem{Seq: seq, What: fmt.Sprintf(format, args...)})
}

// ErrNotALedger is returned when the database has no ledger tables.
var ErrNotALedger = errors.New("inventory: no blank-card ledger in this database")

// Verify recomputes the Merkle tree from the event rows and compares it with
// every stored tree hash and every signed checkpoint, replays the invariant
// event by event, and ties every consumed or spoiled blank to a job. It reads
// only; db may be opened with storage.OpenReadOnly on a copy. A non-nil
// error means verify could not run; what it found is in the report.
func Verify(ctx context.Context, sqlDB *sql.DB, opt VerifyOptions) (*VerifyReport, error) {
	if opt.MaxProblems <= 0 {
		opt.MaxProblems = 100
	}
	max := opt.MaxProblems
	rep := &VerifyReport{Problems: []Problem{}}
	// One read transaction: a consistent snapshot even if the daemon is
	// appending to the file meanwhile (WAL readers do not block writers).
	db, err := sqlDB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("inventory: verify: %w", err)
	}
	defer db.Rollback()
	if err := db.QueryRowContext(ctx, `SELECT value FROM ledger_meta WHERE key = 'station'`).Scan(&rep.Station); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotALedger, err)
	}

	// Pass 1: the events, in seq order. The tree is rebuilt from the rows
	// as they stand; any difference from what was signed shows below.
	var (
		seqs     []int64
		leaves   []tlog.Hash
		computed []tlog.Hash // stored-hash layout, as tlog.StoredHashes makes it
		bal      = balances{}
	)
	memReader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(computed)) {
				return nil, fmt.Errorf("tree hash %d not computed", x)
			}
			out[i] = computed[x]
		}
		return out, nil
	})
	knownJobs, err := loadJobs(ctx, db, rep)
	if err != nil {
		return nil, err
	}
	var hint int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq)+1, 0) FROM ledger_events`).Scan(&hint); err != nil {
		return nil, fmt.Errorf("inventory: verify: count events: %w", err)
	}
	hint = min(hint, 1<<28)
	seqs = make([]int64, 0, hint)
	leaves = make([]tlog.Hash, 0, hint)
	computed = make([]tlog.Hash, 0, 2*hint)
	// The event's bytes and its four query columns come as one value
	// (splitRow).
	rows, err := db.QueryContext(ctx, `SELECT seq, CAST(data || char(0) || at || char(0) || kind || char(0) || printer || char(0) || job AS BLOB) FROM ledger_events ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("inventory: verify: read events: %w", err)
	}
	// Reading rows, parsing and hashing dominate; they run in a pipeline
	// (reader → parallel parsers) while this goroutine consumes the
	// batches in seq order for what must be sequential: the tree and the
	// replay.
	work, ordered := make(chan *eventBatch, 4), make(chan *eventBatch, 16)
	var readErr error
	go func() {
		defer close(ordered)
		defer close(work)
		defer rows.Close()
		// A batch's row bytes share one buffer: one allocation per batch
		// instead of one per row (RawBytes: no copy by database/sql).
		newBatch := func() *eventBatch {
			return &eventBatch{done: make(chan struct{}), rows: make([]rowCheck, 0, 1024), buf: make([]byte, 0, 1024*320)}
		}
		send := func(b *eventBatch) {
			for i := range b.rows {
				r := &b.rows[i]
				r.data = b.buf[r.lo:r.hi:r.hi]
			}
			work <- b
			ordered <- b
		}
		b := newBatch()
		var raw sql.RawBytes
		for rows.Next() {
			var r rowCheck
			if err := rows.Scan(&r.seq, &raw); err != nil {
				readErr = fmt.Errorf("inventory: verify: read event: %w", err)
				break
			}
			r.lo = len(b.buf)
			b.buf = append(b.buf, raw...)
			r.hi = len(b.buf)
			b.rows = append(b.rows, r)
			if len(b.rows) == 1024 {
				send(b)
				b = newBatch()
			}
		}
		if err := rows.Err(); err != nil && readErr == nil {
			readErr = fmt.Errorf("inventory: verify: read events: %w", err)
		}
		send(b)
	}()
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		go func() {
			var st fastState
			for b := range work {
				for i := range b.rows {
					b.rows[i].check(&st)
				}
				close(b.done)
			}
		}()
	}
	var pos int64
	printerKeys := map[string]string{}
	days := newDayBuilder()
	for b := range ordered {
		<-b.done
		for i := range b.rows {
			r := &b.rows[i]
			seq := r.seq
			if seq != pos {
				if seq > pos {
					rep.add(max, pos, "missing: events seq %d to %d are not in the database (deleted)", pos, seq-1)
				} else {
					rep.add(max, seq, "duplicate row")
				}
			}
			pos = seq + 1
			computed = appendTree(computed, int64(len(leaves)), r.leaf)
			leaves = append(leaves, r.leaf)
			seqs = append(seqs, seq)
			if r.parseErr != nil {
				rep.add(max, seq, "unreadable: %v", r.parseErr)
				continue
			}
			e := &r.entry
			if e.Seq != seq {
				rep.add(max, seq, "the row holds the event written as seq %d (rows reordered or renumbered)", e.Seq)
			}
			if e.Station != rep.Station {
				rep.add(max, seq, "written by station %q, this ledger is station %q", e.Station, rep.Station)
			}
			if !r.columnsMatch {
				rep.add(max, seq, "the query columns (at, kind, printer, job) differ from the signed event bytes")
			}
			if r.invalid != nil {
				rep.add(max, seq, "invalid %s event: %v", e.Kind, refusalReason(r.invalid))
				continue
			}
			if !r.canonical {
				rep.add(max, seq, "%s event is not in the form the ledger writes", e.Kind)
				continue
			}
			if !verifyFastPath || !bal.move(&e.Event, printerKeys) {
				if _, err := bal.apply(e.Event); err != nil {
					rep.add(max, seq, "breaks the invariant on replay: %v", refusalReason(err))
					continue
				}
			}
			// The day totals replay the same events, from the same state.
			days.add(seq, r.at, &e.Event)
			if e.Kind == Enrolled && e.Epoch > rep.Epoch {
				rep.Epoch = e.Epoch
			}
			if (e.Kind == Consumed || e.Kind == Spoiled) && e.Job != "" {
				if _, ok := knownJobs[e.Job]; knownJobs != nil && !ok {
					rep.add(max, seq, "blank tied to job %q, which the job queue does not know", e.Job)
				}
			}
		}
		b.rows, b.buf = nil, nil
	}
	if readErr != nil {
		return nil, readErr
	}
	size := int64(len(leaves))
	rep.Events = size
	rep.Stock = stockOf(bal)
	rep.Stock.Events = size

	// The checkpoints are checked first, since the largest one the rows
	// reproduce bounds which stored hashes need comparing; their findings
	// are reported after the stored hashes', as before.
	cpRep := &VerifyReport{Station: rep.Station, Problems: []Problem{}}
	vouched, err := verifyCheckpoints(ctx, db, cpRep, opt, max, memReader, size)
	if err != nil {
		return nil, err
	}
	if opt.AllStoredHashes {
		vouched = 0
	}
	if err := verifyStoredHashes(ctx, db, rep, max, seqs, leaves, computed, vouched); err != nil {
		return nil, err
	}
	rep.Checkpoints, rep.Cosigned, rep.KeySource = cpRep.Checkpoints, cpRep.Cosigned, cpRep.KeySource
	rep.LastCheckpoint, rep.UncheckpointedTail = cpRep.LastCheckpoint, cpRep.UncheckpointedTail
	rep.Warnings = append(rep.Warnings, cpRep.Warnings...)
	rep.WarningCodes = append(rep.WarningCodes, cpRep.WarningCodes...)
	for _, p := range cpRep.Problems {
		rep.add(max, p.Seq, "%s", p.What)
	}
	rep.MoreProblems += cpRep.MoreProblems
	if opt.Centre != nil {
		verifyAgainstCentre(rep, opt, max, memReader, size)
	}

	stored, err := loadBalances(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := verifyDays(ctx, db, rep, max, days); err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(union(stored, bal)) {
		if stored[k] != bal[k] {
			rep.add(max, -1, "the stock table says %s holds %d, the events add up to %d", describe(k), stored[k], bal[k])
		}
	}
	return rep, nil
}

// verifyDays compares ledger_days with the day totals the replay built.
func verifyDays(ctx context.Context, db storage.Execer, rep *VerifyReport, max int, days *dayBuilder) error {
	want, err := days.finish()
	if err != nil {
		return fmt.Errorf("inventory: verify: %w", err)
	}
	var name string
	err = db.QueryRowContext(ctx, `SELECT name FROM sqlite_master WHERE type='table' AND name='ledger_days'`).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		rep.warn(WarnNoDayTotals, "no day totals (ledger_days): a database from an older version; the station rebuilds them when it next starts, reconcile replays every event meanwhile")
		return nil
	}
	if err != nil {
		return fmt.Errorf("inventory: verify: look for the day totals: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT first_seq, day, last_seq, state, found FROM ledger_days ORDER BY first_seq`)
	if err != nil {
		return fmt.Errorf("inventory: verify: read the day totals: %w", err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var got dayRow
		if err := rows.Scan(&got.FirstSeq, &got.Day, &got.LastSeq, &got.State, &got.Found); err != nil {
			return fmt.Errorf("inventory: verify: read the day totals: %w", err)
		}
		for i < len(want) && want[i].FirstSeq < got.FirstSeq {
			rep.add(max, want[i].FirstSeq, "no day totals stored for %s (events %d to %d): reconcile would miss them", want[i].Day, want[i].FirstSeq, want[i].LastSeq)
			i++
		}
		if i == len(want) || want[i].FirstSeq != got.FirstSeq {
			rep.add(max, got.FirstSeq, "day totals stored for events %d to %d (%s), which the events do not make: the table was changed", got.FirstSeq, got.LastSeq, got.Day)
			continue
		}
		w := want[i]
		i++
		if got.Day != w.Day || got.LastSeq != w.LastSeq || string(got.State) != string(w.State) || string(got.Found) != string(w.Found) {
			rep.add(max, w.FirstSeq, "the day totals stored for %s (events %d to %d) differ from what the events add up to: reconcile would report wrong figures (the table was changed)", w.Day, w.FirstSeq, w.LastSeq)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("inventory: verify: read the day totals: %w", err)
	}
	for ; i < len(want); i++ {
		rep.add(max, want[i].FirstSeq, "no day totals stored for %s (events %d to %d): reconcile would miss them", want[i].Day, want[i].FirstSeq, want[i].LastSeq)
	}
	return nil
}

func refusalReason(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return err.Error()
}

func union(a, b balances) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// appendTree adds leaf n to a tree kept in tlog's stored-hash layout, as
// tlog.StoredHashesForRecordHash would (test: TestTreeIsTlogStoredHashes)
// but without a reader call and its slices per leaf: each trailing 1 bit
// of n completes a subtree with its left neighbour.
func appendTree(computed []tlog.Hash, n int64, leaf tlog.Hash) []tlog.Hash {
	computed = append(computed, leaf)
	h := leaf
	for level := 0; n&1 == 1; level, n = level+1, n>>1 {
		h = tlog.NodeHash(computed[tlog.StoredHashIndex(level, n-1)], h)
		computed = append(computed, h)
	}
	return computed
}

// verifyFastPath is switched off by tests to compare the fast row check
// with the general one.
var verifyFastPath = true

// rowCheck is one event row and what can be checked about it on its own.
type rowCheck struct {
	seq    int64
	cols   []byte // at, kind, printer, job joined by NUL bytes
	data   []byte // the event's bytes (as read: followed by NUL and cols)
	lo, hi int    // where data is in its batch's buffer
	at     string // the event's time as written in its bytes

	leaf         tlog.Hash
	entry        Entry
	parseErr     error
	columnsMatch bool
	invalid      error // what normalize refused
	canonical    bool  // normalize left the event unchanged
}

// check hashes the row and reads its event: the fast path for bytes in
// canonical form, ParseEntry for anything else (which then says what is
// wrong). st is the worker's reusable memory.
func (r *rowCheck) check(st *fastState) {
	r.data, r.cols = splitRow(r.data)
	r.leaf = tlog.RecordHash(r.data)
	fe, ok := parseFast(r.data, st)
	ok = ok && verifyFastPath
	scratch := st.scratch
	defer func() { st.scratch = scratch }()
	if ok {
		r.entry = Entry{Seq: fe.Seq, Station: fe.Station, Event: fe.Event}
		r.at = fe.At
		scratch = appendCols(scratch[:0], fe.At, &fe.Event)
	} else {
		r.entry, r.parseErr = ParseEntry(r.data)
		if r.parseErr != nil {
			return
		}
		r.at = formatTime(r.entry.At)
		scratch = appendCols(scratch[:0], r.at, &r.entry.Event)
	}
	r.columnsMatch = string(r.cols) == string(scratch)
	n, err := normalize(r.entry.Event)
	r.invalid = err
	r.canonical = err == nil && eventEqual(&n, &r.entry.Event)
}

// splitRow takes the row as the verify query reads it apart: the event's
// bytes, then NUL, then the four query columns joined by NUL (one value
// to fetch per row instead of five, the dearest part of reading a million
// rows). The canonical bytes of an event never hold a NUL byte (JSON
// escapes it), so the first NUL ends them: columns holding a NUL then show
// as columns that differ, and event bytes holding one were changed (and
// no longer match their hash).
func splitRow(b []byte) (data, cols []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return b, nil
	}
	return b[:i:i], b[i+1:]
}

// appendCols is what the query columns of a row must hold, in the form the
// verify query reads them. A valid event's text holds no NUL byte, so the
// joined form is unambiguous for the rows it passes.
func appendCols(b []byte, at string, e *Event) []byte {
	b = append(append(b, at...), 0)
	b = append(append(b, e.Kind...), 0)
	b = append(append(b, e.Printer...), 0)
	return append(b, e.Job...)
}

// eventEqual is reflect.DeepEqual for events (test: TestEventEqualIsDeepEqual).
func eventEqual(a, b *Event) bool {
	return a.Kind == b.Kind && a.Actor == b.Actor && a.Printer == b.Printer && a.Quantity == b.Quantity &&
		a.DeliveryRef == b.DeliveryRef && a.SerialFirst == b.SerialFirst && a.SerialLast == b.SerialLast &&
		a.Job == b.Job && a.UID == b.UID && a.Reason == b.Reason && stringsEqual(a.UIDs, b.UIDs) &&
		stringsEqual(a.Witnesses, b.Witnesses) && a.RecordRef == b.RecordRef && stringsEqual(a.Approvers, b.Approvers) &&
		a.Location == b.Location && countsEqual(a.Counted, b.Counted) && a.CardsInserted == b.CardsInserted &&
		a.Epoch == b.Epoch && a.PrevSize == b.PrevSize && a.PrevRoot == b.PrevRoot && a.Action == b.Action &&
		a.Subject == b.Subject && a.Via == b.Via && stringsEqual(a.Roles, b.Roles)
}

func stringsEqual(a, b []string) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	if len(a) > 0 && &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func countsEqual(a, b map[string]int64) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

type eventBatch struct {
	rows []rowCheck
	buf  []byte // the rows' bytes
	done chan struct{}
}

// verifyStoredHashes compares the tree hashes stored at append time with the
// rows, from event seq `from` on (0: all of them). Each row's bytes are
// checked against the leaf hash stored for its own seq, so a changed row is
// named even when others were deleted; leaf hashes without rows show that
// rows at the end were deleted; interior hashes are compared when the rows
// are complete, to catch edited hashes. Below `from`, where a verified
// signature vouches for the rows, only the stored hashes that the next
// appends build on (the current tree's frontier) are compared.
func verifyStoredHashes(ctx context.Context, db storage.Execer, rep *VerifyReport, max int, seqs []int64, leaves, computed []tlog.Hash, from int64) error {
	base := tlog.StoredHashIndex(0, from)
	rows, err := db.QueryContext(ctx, `SELECT idx, hash FROM ledger_hashes WHERE idx >= ? ORDER BY idx`, base)
	if err != nil {
		return fmt.Errorf("inventory: verify: read tree hashes: %w", err)
	}
	defer rows.Close()
	want := int64(len(computed)) - base + 64
	stored := make([]tlog.Hash, 0, max64(want, 64))
	present := make([]bool, 0, max64(want, 64))
	for rows.Next() {
		var idx int64
		var b sql.RawBytes // no copy per row: there are two per event
		if err := rows.Scan(&idx, &b); err != nil {
			return fmt.Errorf("inventory: verify: read tree hash: %w", err)
		}
		if idx < 0 || idx > 1<<40 {
			rep.add(max, -1, "tree hash row with impossible index %d", idx)
			continue
		}
		for int64(len(stored)) <= idx-base {
			stored = append(stored, tlog.Hash{})
			present = append(present, false)
		}
		if len(b) == tlog.HashSize {
			stored[idx-base] = tlog.Hash(b)
			present[idx-base] = true
		} else {
			rep.add(max, -1, "tree hash %d has %d bytes", idx, len(b))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("inventory: verify: read tree hashes: %w", err)
	}
	has := func(idx int64) bool { return idx >= base && idx-base < int64(len(present)) && present[idx-base] }
	at := func(idx int64) tlog.Hash { return stored[idx-base] }
	complete := true
	badLeaf := map[int64]bool{}
	var lastSeq int64 = -1
	for i, seq := range seqs {
		if seq != int64(i) {
			complete = false
		}
		lastSeq = seq
		if seq < from {
			continue
		}
		idx := tlog.StoredHashIndex(0, seq)
		switch {
		case !has(idx):
			rep.add(max, seq, "no tree hash was stored for this event (row added outside the ledger)")
			badLeaf[seq] = true
		case at(idx) != leaves[i]:
			rep.add(max, seq, "the event bytes do not match the tree hash stored when it was written (the row was changed, or rows were swapped)")
			badLeaf[seq] = true
		}
	}
	if beyond := lastSeq + 1; has(tlog.StoredHashIndex(0, beyond)) {
		end := beyond
		for has(tlog.StoredHashIndex(0, end+1)) {
			end++
		}
		rep.add(max, beyond, "tree hashes exist for events seq %d to %d, but the rows are gone (events at the end were deleted)", beyond, end)
	}
	if !complete {
		return nil // interior hashes cannot line up; the gap is already reported
	}
	edited := func(idx int64) bool {
		level, n := tlog.SplitStoredHashIndex(idx)
		lo, hi := n<<level, (n+1)<<level-1
		for s := lo; s <= hi; s++ {
			if badLeaf[s] {
				return false
			}
		}
		rep.add(max, lo, "stored tree hashes over events %d to %d were edited", lo, hi)
		return true
	}
	// The frontier below the window: the roots of the complete subtrees
	// that tlog.TreeHash and the next append read. An edit there would
	// make every later checkpoint sign a wrong root.
	if from > 0 {
		var frontier []int64
		tlog.TreeHash(int64(len(leaves)), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			frontier = append(frontier, idx...)
			return make([]tlog.Hash, len(idx)), nil
		}))
		for _, idx := range frontier {
			if idx >= base || idx >= int64(len(computed)) {
				continue
			}
			var b []byte
			err := db.QueryRowContext(ctx, `SELECT hash FROM ledger_hashes WHERE idx = ?`, idx).Scan(&b)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && tlog.Hash(padHash(b)) != computed[idx]) {
				if edited(idx) {
					break
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("inventory: verify: read tree hash %d: %w", idx, err)
			}
		}
	}
	// An interior mismatch with no bad leaf under it means the stored hashes
	// themselves were edited; report the first such range only.
	for i := range computed[min(base, int64(len(computed))):] {
		idx := base + int64(i)
		if !has(idx) || at(idx) == computed[idx] {
			continue
		}
		if level, _ := tlog.SplitStoredHashIndex(idx); level == 0 {
			continue
		}
		if edited(idx) {
			break
		}
	}
	return nil
}

// padHash returns b as a hash, or a hash no tree holds when b has the
// wrong length.
func padHash(b []byte) [tlog.HashSize]byte {
	var h [tlog.HashSize]byte
	if len(b) != tlog.HashSize {
		h[0] ^= 0xff
		h[1] ^= 0xee
		return h
	}
	return [tlog.HashSize]byte(b)
}

// verifyCheckpoints checks every stored checkpoint's signature and root
// against the rebuilt tree; it returns the largest size a verified
// signature vouches for.
func verifyCheckpoints(ctx context.Context, db storage.Execer, rep *VerifyReport, opt VerifyOptions, max int, r tlog.HashReader, size int64) (vouched int64, err error) {
	keys := opt.Keys
	rep.KeySource = "auditor (--key)"
	if len(keys) == 0 {
		rep.KeySource = "database (only proves the file agrees with itself; pass --key with the vkey from the centre to prove it came from the station)"
		rows, err := db.QueryContext(ctx, `SELECT vkey FROM ledger_keys`)
		if err != nil {
			return 0, fmt.Errorf("inventory: verify: read station keys: %w", err)
		}
		for rows.Next() {
			var vkey string
			if err := rows.Scan(&vkey); err != nil {
				rows.Close()
				return 0, fmt.Errorf("inventory: verify: read station keys: %w", err)
			}
			v, err := note.NewVerifier(vkey)
			if err != nil {
				rep.add(max, -1, "stored station key %q is not a verifier key: %v", vkey, err)
				continue
			}
			keys = append(keys, v)
		}
		rows.Close()
		if len(keys) == 0 {
			rep.add(max, -1, "no station key to check checkpoint signatures with: pass --key")
		}
	}
	origin := Origin(rep.Station)
	type signed struct {
		size int64
		msg  []byte
	}
	load := func(q string) ([]signed, error) {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("inventory: verify: read checkpoints: %w", err)
		}
		defer rows.Close()
		var out []signed
		for rows.Next() {
			var s signed
			if err := rows.Scan(&s.size, &s.msg); err != nil {
				return nil, fmt.Errorf("inventory: verify: read checkpoints: %w", err)
			}
			out = append(out, s)
		}
		return out, rows.Err()
	}
	cps, err := load(`SELECT size, note FROM ledger_checkpoints ORDER BY size`)
	if err != nil {
		return 0, err
	}
	cos, err := load(`SELECT size, note FROM ledger_cosigned ORDER BY size`)
	if err != nil {
		return 0, err
	}
	rep.Checkpoints, rep.Cosigned = len(cps), len(cos)
	var lastGood int64
	check := func(what string, s signed, centre note.Verifier) bool {
		vs := append([]note.Verifier{}, keys...)
		if centre != nil {
			vs = append(vs, centre)
		}
		n, err := note.Open(s.msg, note.VerifierList(vs...))
		if err != nil {
			rep.add(max, -1, "%s at size %d: signature does not verify with the station key: %v", what, s.size, err)
			return false
		}
		if centre != nil {
			found := false
			for _, sig := range n.Sigs {
				found = found || (sig.Name == centre.Name() && sig.Hash == centre.KeyHash())
			}
			if !found {
				rep.add(max, -1, "%s at size %d: no valid centre cosignature", what, s.size)
				return false
			}
		}
		o, t, err := ParseCheckpoint([]byte(n.Text))
		if err != nil {
			rep.add(max, -1, "%s at size %d: %v", what, s.size, err)
			return false
		}
		if o != origin || t.N != s.size {
			rep.add(max, -1, "%s at size %d: signed text is for %q size %d", what, s.size, o, t.N)
			return false
		}
		if t.N > size {
			rep.add(max, size, "%s signed at size %d but only %d events remain: events seq %d to %d were deleted", what, t.N, size, size, t.N-1)
			return false
		}
		h, err := tlog.TreeHash(t.N, r)
		if err != nil || h != t.Hash {
			rep.add(max, lastGood, "%s at size %d does not match the events: an event between seq %d and %d was changed, removed, reordered or inserted after it was signed", what, t.N, lastGood, t.N-1)
			return false
		}
		return true
	}
	for _, s := range cps {
		if check("checkpoint", s, nil) {
			lastGood = s.size
			vouched = max64(vouched, s.size)
		}
		rep.LastCheckpoint = s.size
	}
	for _, s := range cos {
		if check("cosigned checkpoint", s, opt.CentreKey) {
			vouched = max64(vouched, s.size)
		}
	}
	if rep.LastCheckpoint <= size {
		rep.UncheckpointedTail = size - rep.LastCheckpoint
	}
	// The station signs at every shutdown and shift close and, after a
	// crash, when it starts again; a copy with events and no checkpoint at
	// all is either brand new or had its checkpoints removed. Which, only
	// the centre's cosigned copies can tell, so this is a warning.
	if size > 0 && len(cps) == 0 {
		rep.warn(WarnNoCheckpoint, fmt.Sprintf("no signed checkpoint covers any of the %d events: nothing vouches for this history (checkpoints deleted, or a new station that has not signed yet); compare with the checkpoints the centre cosigned", size))
	} else if rep.UncheckpointedTail > 0 {
		rep.warn(WarnTail, fmt.Sprintf("the last %d events (seq %d on) are not covered by a signed checkpoint yet: they are consistent with the stored tree, but only a later checkpoint will vouch for them", rep.UncheckpointedTail, rep.LastCheckpoint))
	}
	return vouched, nil
}

// loadJobs reads the job ids of jobqueue's table when the copy has it; nil
// (and a note in the report) when it does not.
func loadJobs(ctx context.Context, db storage.Execer, rep *VerifyReport) (map[string]struct{}, error) {
	var name string
	err := db.QueryRowContext(ctx, `SELECT name FROM sqlite_master WHERE type='table' AND name='job_jobs'`).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		rep.JobsNote = "not checked: this database has no job_jobs table (jobs are kept by the job queue; audit a copy that includes it)"
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inventory: verify: look for the jobs table: %w", err)
	}
	col := ""
	cols, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info('job_jobs')`)
	if err != nil {
		return nil, fmt.Errorf("inventory: verify: jobs table columns: %w", err)
	}
	for cols.Next() {
		var c string
		if err := cols.Scan(&c); err != nil {
			cols.Close()
			return nil, fmt.Errorf("inventory: verify: jobs table columns: %w", err)
		}
		if (c == "id" || c == "job_id") && col == "" {
			col = c
		}
	}
	cols.Close()
	if col == "" {
		rep.JobsNote = "not checked: job_jobs has no id or job_id column"
		return nil, nil
	}
	known := map[string]struct{}{}
	rows, err := db.QueryContext(ctx, `SELECT `+col+` FROM job_jobs`)
	if err != nil {
		return nil, fmt.Errorf("inventory: verify: read jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("inventory: verify: read jobs: %w", err)
		}
		known[id] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inventory: verify: read jobs: %w", err)
	}
	rep.JobsChecked = true
	return known, nil
}

// verifyAgainstCentre checks the database against the checkpoints the
// centre cosigned for this station. The station's own tables cannot vouch
// for themselves against an insider who holds the station key; the
// centre's copies can, because the centre cosigned only trees that extend
// each other.
func verifyAgainstCentre(rep *VerifyReport, opt VerifyOptions, max int, r tlog.HashReader, size int64) {
	c := opt.Centre
	if c.Station != "" && c.Station != rep.Station {
		rep.add(max, -1, "the centre's record is for station %q, this database is station %q", c.Station, rep.Station)
		return
	}
	centreKey := opt.CentreKey
	if centreKey == nil && c.WitnessKey != "" {
		v, err := note.NewVerifier(c.WitnessKey)
		if err != nil {
			rep.add(max, -1, "the centre's record names witness key %q, which is not a verifier key: %v", c.WitnessKey, err)
			return
		}
		centreKey = v
		rep.warn(WarnKeyFromRecord, "the centre's signatures were checked with the key in its own record; pass --centre-key with the centre's published key to prove the record came from the centre")
	}
	if centreKey == nil {
		rep.add(max, -1, "no centre key to check the centre's signatures with: pass --centre-key")
		return
	}
	epoch := rep.Epoch
	if epoch == 0 {
		epoch = 1 // a ledger from before enrolments were recorded
	}
	var latest int64
	for _, en := range c.Enrolments {
		latest = max64(latest, en.Epoch)
		if en.Epoch > 1 {
			rep.warn(WarnReenrolled, fmt.Sprintf("the station was re-enrolled (epoch %d) on %s by %q: %q; the centre had witnessed %d events before, and %d job(s) were in question", en.Epoch, en.At.Format(time.RFC3339), en.Actor, en.Reason, en.PrevSize, len(en.JobsInQuestion)))
		}
	}
	for _, cp := range c.Checkpoints {
		latest = max64(latest, cp.Epoch)
	}
	if latest == 0 {
		rep.add(max, -1, "the centre has witnessed nothing for station %q: this database cannot be checked against it", rep.Station)
		return
	}
	switch {
	case epoch < latest:
		rep.add(max, -1, "this database is of enrolment epoch %d, but the centre re-enrolled the station at epoch %d: it is an old or replaced copy", epoch, latest)
	case epoch > latest:
		rep.add(max, -1, "this database claims enrolment epoch %d, which the centre never recorded (its latest is %d)", epoch, latest)
	}
	keys := append([]note.Verifier{}, opt.Keys...)
	if len(keys) == 0 {
		for _, en := range c.Enrolments {
			if en.Epoch == epoch {
				if v, err := note.NewVerifier(en.VKey); err == nil {
					keys = append(keys, v)
				}
			}
		}
	}
	origin := Origin(rep.Station)
	for _, cp := range c.Checkpoints {
		if cp.Epoch != epoch {
			continue
		}
		rep.CentreChecked++
		name := fmt.Sprintf("centre-cosigned checkpoint at size %d (epoch %d, %s)", cp.Size, cp.Epoch, cp.At.Format(time.RFC3339))
		vs := append(append([]note.Verifier{}, keys...), centreKey)
		n, err := note.Open([]byte(cp.Checkpoint), note.VerifierList(vs...))
		if err != nil {
			rep.add(max, -1, "%s: signatures do not verify: %v", name, err)
			continue
		}
		centre := false
		for _, s := range n.Sigs {
			centre = centre || (s.Name == centreKey.Name() && s.Hash == centreKey.KeyHash())
		}
		if !centre {
			rep.add(max, -1, "%s: no valid centre signature", name)
			continue
		}
		o, t, err := ParseCheckpoint([]byte(n.Text))
		if err != nil || o != origin || t.N != cp.Size {
			rep.add(max, -1, "%s: the signed text is not this station's checkpoint of that size", name)
			continue
		}
		if t.N > size {
			rep.add(max, size, "%s: this database holds only %d events: events seq %d to %d, which the centre witnessed, were deleted (or the database is an older copy)", name, size, size, t.N-1)
			continue
		}
		h, err := tlog.TreeHash(t.N, r)
		if err != nil || h != t.Hash {
			rep.add(max, -1, "%s: this database does not reproduce its root: the first %d events were changed, removed or replaced after the centre witnessed them", name, t.N)
		}
	}
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
