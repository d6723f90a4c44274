package auditcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"printstation/internal/golden"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"printstation/inventory"
	"printstation/storage"
)

// station builds a ledger the way the daemon would and returns the closed
// database file and the station's vkey file.
type station struct {
	dbPath, vkeyPath string
	jobs             []string
}

// buildStation writes 23 events over two days with a checkpoint every 5,
// plus a job_jobs table (as jobqueue would have it) when withJobs is set.
func buildStation(t *testing.T, withJobs bool) station {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	path := filepath.Join(dir, "station.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	signer, _, err := inventory.LoadOrCreateSigner(filepath.Join(dir, "ledger.key"), "station-jkt01")
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(17 * time.Minute); return clock }
	l, err := inventory.Open(ctx, db, inventory.Options{StationID: "jkt01", Signer: signer, CheckpointEvery: 5, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(e inventory.Event) {
		t.Helper()
		if _, err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st := station{dbPath: path, vkeyPath: filepath.Join(dir, "ledger.key.pub")}
	rec(inventory.Event{Kind: inventory.Received, Actor: "ani", Quantity: 40, DeliveryRef: "DO-0042", SerialFirst: "A100", SerialLast: "A139"})
	rec(inventory.Event{Kind: inventory.Loaded, Actor: "ani", Printer: "p1", Quantity: 10})
	rec(inventory.Event{Kind: inventory.Loaded, Actor: "ani", Printer: "p2", Quantity: 10})
	rec(inventory.Event{Kind: inventory.CounterReading, Actor: "engine", Printer: "p1", CardsInserted: 1000})
	for i := 0; i < 6; i++ { // seq 4..9
		job := fmt.Sprintf("JOB-%02d", i)
		st.jobs = append(st.jobs, job)
		if i == 3 {
			rec(inventory.Event{Kind: inventory.Spoiled, Actor: "engine", Printer: "p1", Job: job, Reason: inventory.ReasonChipVerify, UID: "04A1B2C3D4"})
			continue
		}
		rec(inventory.Event{Kind: inventory.Consumed, Actor: "engine", Printer: "p1", Job: job, UID: fmt.Sprintf("04A1B2C3%02X", i)})
	}
	rec(inventory.Event{Kind: inventory.TestCard, Actor: "tech", Printer: "p2"})
	rec(inventory.Event{Kind: inventory.CounterReading, Actor: "engine", Printer: "p1", CardsInserted: 1006})
	rec(inventory.Event{Kind: inventory.ShiftClosed, Actor: "ani", Witnesses: []string{"budi"},
		Counted: map[string]int64{inventory.Storage: 20, inventory.InPrinter("p1"): 4, inventory.InPrinter("p2"): 9}}) // seq 12
	clock = time.Date(2026, 3, 3, 7, 0, 0, 0, time.UTC)
	for i := 6; i < 10; i++ { // seq 13..16
		job := fmt.Sprintf("JOB-%02d", i)
		st.jobs = append(st.jobs, job)
		rec(inventory.Event{Kind: inventory.Consumed, Actor: "engine", Printer: "p2", Job: job, UID: fmt.Sprintf("04B1B2C3%02X", i)})
	}
	rec(inventory.Event{Kind: inventory.Spoiled, Actor: "engine", Printer: "p2", Job: "JOB-10", Reason: inventory.ReasonJam})
	st.jobs = append(st.jobs, "JOB-10")
	rec(inventory.Event{Kind: inventory.Destroyed, Actor: "ani", UIDs: []string{"04a1b2c3d4"}, Witnesses: []string{"budi", "citra"}, RecordRef: "BA-7/2026"})
	rec(inventory.Event{Kind: inventory.Unloaded, Actor: "ani", Printer: "p2", Quantity: 2})
	rec(inventory.Event{Kind: inventory.Adjusted, Actor: "ani", Quantity: -1, Location: inventory.Storage, Reason: "one blank bent in the box", Approvers: []string{"budi", "dewi"}})
	rec(inventory.Event{Kind: inventory.Received, Actor: "ani", Quantity: 10, DeliveryRef: "DO-0043"})
	rec(inventory.Event{Kind: inventory.CounterReading, Actor: "engine", Printer: "p2", CardsInserted: 500}) // seq 22
	if _, err := l.Checkpoint(ctx, db); err != nil {                                                         // shutdown checkpoint at 23
		t.Fatal(err)
	}
	if withJobs {
		if _, err := db.Exec(`CREATE TABLE job_jobs(id TEXT PRIMARY KEY, state TEXT)`); err != nil {
			t.Fatal(err)
		}
		for _, j := range st.jobs {
			if _, err := db.Exec(`INSERT INTO job_jobs VALUES(?, 'done')`, j); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return st
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// copyDB gives each test its own copy to attack.
func copyDB(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

func sqlite(t *testing.T, db, script string) {
	t.Helper()
	cmd := exec.Command("sqlite3", db)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
}

func TestVerifyPasses(t *testing.T) {
	st := buildStation(t, true)
	code, out, errs := run("verify", "--db", st.dbPath, "--key", st.vkeyPath)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"23 events", "checkpoints (last at size 23, 0 events after it)", "auditor (--key)", "every consumed or spoiled blank checked", "PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run("verify", "--db", st.dbPath, "--json")
	var rep struct {
		Pass   bool
		Events int64
		Stock  inventory.Stock
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.Pass || rep.Events != 23 || rep.Stock.Storage != 31 {
		t.Errorf("--json: exit %d, %+v, %v\n%s", code, rep, err, out)
	}
}

func TestVerifyWithoutJobsTableSaysSo(t *testing.T) {
	st := buildStation(t, false)
	code, out, _ := run("verify", "--db", st.dbPath)
	if code != 0 || !strings.Contains(out, "jobs: not checked: this database has no job_jobs table") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestVerifyFindsBlankWithoutJob(t *testing.T) {
	st := buildStation(t, true)
	db := copyDB(t, st.dbPath)
	sqlite(t, db, `DELETE FROM job_jobs WHERE id = 'JOB-07';`)
	code, out, _ := run("verify", "--db", db)
	if code != 1 || !strings.Contains(out, `event seq 14: blank tied to job "JOB-07", which the job queue does not know`) {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestVerifyRejectsOtherKey(t *testing.T) {
	st := buildStation(t, false)
	other := buildStation(t, false)
	code, out, _ := run("verify", "--db", st.dbPath, "--key", other.vkeyPath)
	if code != 1 || !strings.Contains(out, "signature does not verify with the station key") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// Each attack drops the append-only triggers first, as a real attacker with
// the file would, then changes the ledger with the sqlite3 tool.
func TestVerifyCatchesTampering(t *testing.T) {
	st := buildStation(t, true)
	const drop = `DROP TRIGGER ledger_events_no_update; DROP TRIGGER ledger_events_no_delete;
		DROP TRIGGER ledger_hashes_no_delete; DROP TRIGGER ledger_checkpoints_no_delete;`
	cases := []struct {
		name, script string
		want         []string
	}{
		{"change a quantity", `UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"quantity":40', '"quantity":45') AS BLOB) WHERE seq = 0;`,
			[]string{"event seq 0: the event bytes do not match the tree hash", "checkpoint at size 5 does not match the events: an event between seq 0 and 4"}},
		{"change a chip UID", `UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '04A1B2C302', '04FFFFFF02') AS BLOB) WHERE seq = 6;`,
			[]string{"event seq 6: the event bytes do not match the tree hash"}},
		{"delete a consumed card", `DELETE FROM ledger_events WHERE seq = 8;`,
			[]string{"event seq 8: missing: events seq 8 to 8 are not in the database (deleted)"}},
		{"reorder two events", `CREATE TEMP TABLE t AS SELECT seq, data FROM ledger_events WHERE seq IN (13, 14);
			UPDATE ledger_events SET data = (SELECT data FROM t WHERE t.seq = 27 - ledger_events.seq) WHERE seq IN (13, 14);`,
			[]string{"event seq 13: the row holds the event written as seq 14 (rows reordered or renumbered)", "event seq 14: the row holds the event written as seq 13"}},
		{"insert an event", `INSERT INTO ledger_events(seq, at, kind, printer, job, data)
			SELECT 23, at, kind, printer, job, CAST(replace(CAST(data AS TEXT), '"seq":21', '"seq":23') AS BLOB) FROM ledger_events WHERE seq = 21;`,
			[]string{"event seq 23: no tree hash was stored for this event (row added outside the ledger)", "the stock table says received holds 50, the events add up to 60"}},
		{"insert an event in the middle", `UPDATE ledger_events SET seq = seq + 1000 WHERE seq >= 10;
			UPDATE ledger_events SET seq = seq - 999 WHERE seq >= 1000;
			INSERT INTO ledger_events(seq, at, kind, printer, job, data)
			SELECT 10, at, kind, printer, job, CAST(replace(CAST(data AS TEXT), '"seq":9', '"seq":10') AS BLOB) FROM ledger_events WHERE seq = 9;`,
			[]string{"event seq 10: the event bytes do not match the tree hash stored", "event seq 11: the row holds the event written as seq 10",
				"event seq 23: no tree hash was stored for this event"}},
		{"delete every checkpoint and change a row", `DELETE FROM ledger_checkpoints;
			UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"quantity":40', '"quantity":45') AS BLOB) WHERE seq = 0;`,
			[]string{"warning: no signed checkpoint covers any of the 23 events", "event seq 0: the event bytes do not match the tree hash"}},
		{"cut the tail after a checkpoint", `DELETE FROM ledger_events WHERE seq >= 17; DELETE FROM ledger_hashes WHERE idx >= 32; -- tlog.StoredHashCount(17)`,
			[]string{"event seq 17: checkpoint signed at size 20 but only 17 events remain: events seq 17 to 19 were deleted",
				"checkpoint signed at size 23 but only 17 events remain"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := copyDB(t, st.dbPath)
			sqlite(t, db, drop+c.script)
			code, out, errs := run("verify", "--db", db, "--key", st.vkeyPath)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (fail)\n%s%s", code, out, errs)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not say %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestReconcile(t *testing.T) {
	st := buildStation(t, false)
	code, out, errs := run("reconcile", "--db", st.dbPath, "--from", "2026-03-02", "--to", "2026-03-02")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"13 events, 1 shift closes, 2 counter readings",
		"storage             0       40       20        0        -        -        0        0       20",
		"p1                  0        -       10        0        5        0        1        0        4",
		"spoiled by reason: chip_verify 1",
		"PASS",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("day one lacks %q:\n%s", want, out)
		}
	}
	// Both days, against physical counts and hardware counters: p2's
	// counter moved one more than the ledger accounts for (a blank missing)
	// and storage is one short.
	code, out, _ = run("reconcile", "--db", st.dbPath, "--from", "2026-03-02", "--to", "2026-03-03",
		"--physical", "storage=30,p1=4,p2=2", "--counters", "p1=1006,p2=501")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		"physical count at storage is 30, the ledger says 31",
		"printer p2: hardware counter reads 501, the ledger expects 500 (last reading 500 plus 0 blanks fed since)",
		"FAIL: 2 discrepancies",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("two days lack %q:\n%s", want, out)
		}
	}
	code, out, _ = run("reconcile", "--db", st.dbPath, "--from", "2026-03-02", "--to", "2026-03-03", "--json", "--physical", "storage=31,p1=4,p2=2")
	var p struct {
		Pass    bool
		Spoiled map[string]int64 `json:"spoiled_by_reason"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || code != 0 || !p.Pass || p.Spoiled["jam"] != 1 || p.Spoiled["chip_verify"] != 1 {
		t.Errorf("--json: exit %d %+v %v\n%s", code, p, err, out)
	}
}

func TestReconcileFindsShiftCountMismatch(t *testing.T) {
	st := buildStation(t, false)
	db := copyDB(t, st.dbPath)
	// Append, through the ledger, a shift close whose count is short.
	ctx := context.Background()
	w, err := storage.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	signer, _, err := inventory.LoadOrCreateSigner(filepath.Join(filepath.Dir(st.vkeyPath), "ledger.key"), "station-jkt01")
	if err != nil {
		t.Fatal(err)
	}
	l, err := inventory.Open(ctx, w, inventory.Options{StationID: "jkt01", Signer: signer,
		Now: func() time.Time { return time.Date(2026, 3, 3, 18, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Record(ctx, inventory.Event{Kind: inventory.ShiftClosed, Actor: "ani", Witnesses: []string{"dewi"}, Counted: map[string]int64{inventory.Storage: 29}}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	code, out, _ := run("reconcile", "--db", db, "--from", "2026-03-03", "--to", "2026-03-03")
	if code != 1 || !strings.Contains(out, "event seq 23: shift close by ani: counted 29 at storage, the ledger says 31") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	st := buildStation(t, false)
	cases := [][]string{
		{},
		{"frobnicate"},
		{"verify"},
		{"verify", "--db", filepath.Join(t.TempDir(), "absent.db")},
		{"verify", "--db", st.dbPath, "--key", st.dbPath},
		{"reconcile", "--db", st.dbPath, "--from", "2026-03-02"},
		{"reconcile", "--db", st.dbPath, "--from", "2026-03-05", "--to", "2026-03-02"},
		{"reconcile", "--db", st.dbPath, "--from", "2026-03-02", "--to", "2026-03-03", "--physical", "storage=lots"},
		{"export", "--db", st.dbPath},
		{"export", "--db", st.dbPath, "--format", "xml"},
	}
	for _, args := range cases {
		code, _, errs := run(args...)
		if code != 2 || errs == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, errs)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty.db")
	sqlite(t, empty, "CREATE TABLE x(a);")
	if code, _, errs := run("verify", "--db", empty); code != 2 || !strings.Contains(errs, "no blank-card ledger") {
		t.Errorf("database without a ledger: exit %d %q", code, errs)
	}
}

var hashRE = regexp.MustCompile(`[A-Za-z0-9+/]{43}=`)

func TestExportGolden(t *testing.T) {
	st := buildStation(t, false)
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"export.csv", []string{"export", "--db", st.dbPath, "--format", "csv"}},
		{"export.json", []string{"export", "--db", st.dbPath, "--format", "json"}},
		{"export-day2.csv", []string{"export", "--db", st.dbPath, "--format", "csv", "--from", "2026-03-03", "--to", "2026-03-03"}},
	} {
		code, out, errs := run(c.args...)
		if code != 0 {
			t.Fatalf("%s: exit %d %s", c.golden, code, errs)
		}
		path := filepath.Join("testdata", c.golden)
		golden.Check(t, path, []byte(out))
	}
	if !hashRE.MatchString(mustRead(t, "testdata/export.csv")) {
		t.Error("export carries no leaf hashes")
	}
}

func mustRead(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVerifyChecksCentreCosignature(t *testing.T) {
	st := buildStation(t, false)
	db := copyDB(t, st.dbPath)
	ctx := context.Background()
	dir := t.TempDir()
	centreSkey, centreVkey, err := note.GenerateKey(nil, "centre.example")
	if err != nil {
		t.Fatal(err)
	}
	_, otherVkey, _ := note.GenerateKey(nil, "centre.example")
	os.WriteFile(filepath.Join(dir, "centre.pub"), []byte(centreVkey+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "other.pub"), []byte(otherVkey+"\n"), 0o644)
	centreSigner, _ := note.NewSigner(centreSkey)
	centreVerifier, _ := note.NewVerifier(centreVkey)

	w, err := storage.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	signer, stationVerifier, err := inventory.LoadOrCreateSigner(filepath.Join(filepath.Dir(st.vkeyPath), "ledger.key"), "station-jkt01")
	if err != nil {
		t.Fatal(err)
	}
	l, err := inventory.Open(ctx, w, inventory.Options{StationID: "jkt01", Signer: signer, CentreVerifier: centreVerifier})
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Checkpoint(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(c.Note, note.VerifierList(stationVerifier))
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(n, centreSigner)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StoreCosigned(ctx, cosigned); err != nil {
		t.Fatal(err)
	}
	w.Close()
	code, out, _ := run("verify", "--db", db, "--key", st.vkeyPath, "--centre-key", filepath.Join(dir, "centre.pub"))
	if code != 0 || !strings.Contains(out, "1 cosigned") {
		t.Errorf("with the centre's key: exit %d\n%s", code, out)
	}
	code, out, _ = run("verify", "--db", db, "--key", st.vkeyPath, "--centre-key", filepath.Join(dir, "other.pub"))
	if code != 1 || !strings.Contains(out, "cosigned checkpoint at size 23: no valid centre cosignature") {
		t.Errorf("with another centre key: exit %d\n%s", code, out)
	}
}

// A stored hash edited under a checkpoint the events reproduce changes no
// event: plain verify passes, --all-hashes names it.
func TestVerifyAllHashes(t *testing.T) {
	st := buildStation(t, true)
	db := copyDB(t, st.dbPath)
	sqlite(t, db, `DROP TRIGGER ledger_hashes_no_update; UPDATE ledger_hashes SET hash = zeroblob(32) WHERE idx = 2;`)
	if code, out, errs := run("verify", "--db", db, "--key", st.vkeyPath); code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := run("verify", "--db", db, "--key", st.vkeyPath, "--all-hashes")
	if code != 1 || !strings.Contains(out, "stored tree hashes over events 0 to 1 were edited") {
		t.Fatalf("verify --all-hashes: exit %d\n%s%s", code, out, errs)
	}
}
