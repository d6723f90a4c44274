package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/mod/sumdb/note"

	"printstation/storage"
)

// fakeOutbox writes into a table through the Execer it is given, so a test
// can see that the checkpoint was queued in the ledger's own transaction.
type fakeOutbox struct{}

func (fakeOutbox) Enqueue(ctx context.Context, ex storage.Execer, kind, key string, body []byte) error {
	_, err := ex.ExecContext(ctx, `INSERT INTO test_outbox(kind, key, body) VALUES(?,?,?)`, kind, key, body)
	return err
}

type fixture struct {
	db       *sql.DB
	l        *Ledger
	path     string
	keyPath  string
	verifier note.Verifier
	clock    *fakeClock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// Now advances a minute per call so that entries have distinct times.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

func newFixture(t testing.TB, mod func(*Options)) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	path := filepath.Join(dir, "station.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE test_outbox(kind TEXT, key TEXT PRIMARY KEY, body BLOB)`); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "keys", "ledger.key")
	signer, verifier, err := LoadOrCreateSigner(keyPath, "station-jkt01")
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	opt := Options{StationID: "jkt01", Signer: signer, CheckpointEvery: 10, Outbox: fakeOutbox{}, Now: clock.Now}
	if mod != nil {
		mod(&opt)
	}
	l, err := Open(ctx, db, opt)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, l: l, path: path, keyPath: keyPath, verifier: verifier, clock: clock}
}

func (f *fixture) record(t testing.TB, e Event) Entry {
	t.Helper()
	ent, err := f.l.Record(context.Background(), e)
	if err != nil {
		t.Fatalf("record %s: %v", e.Kind, err)
	}
	return ent
}

func (f *fixture) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStockFollowsEvents(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.LowStock = 60 })
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 100, DeliveryRef: "DO-2026-0042", SerialFirst: "A000100", SerialLast: "A000199"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 30})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p2", Quantity: 20})
	f.record(t, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "J1", UID: "04a1b2c3d4e5f6"})
	f.record(t, Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: "J2", Reason: ReasonChipVerify, UID: ""})
	f.record(t, Event{Kind: TestCard, Actor: "tech", Printer: "p2"})
	f.record(t, Event{Kind: Unloaded, Actor: "ani", Printer: "p2", Quantity: 5})
	f.record(t, Event{Kind: Destroyed, Actor: "ani", Quantity: 1, Witnesses: []string{"budi", "citra"}, RecordRef: "BA-7/2026"})
	f.record(t, Event{Kind: Adjusted, Actor: "ani", Quantity: -2, Location: Storage, Reason: "two blanks found bent in a box", Approvers: []string{"budi", "dewi"}})
	s, err := f.l.Stock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Stock{Received: 100, Storage: 53, Printers: map[string]int64{"p1": 28, "p2": 14}, Consumed: 1, TestCards: 1,
		SpoiledAwaiting: 0, Destroyed: 1, Adjustments: -2, Available: 95, Low: false, Events: 9}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("stock\n got %+v\nwant %+v", s, want)
	}
	for i := 0; i < 42; i++ {
		f.record(t, Event{Kind: Consumed, Actor: "engine", Printer: map[bool]string{true: "p1", false: "p2"}[i < 28], Job: fmt.Sprint("K", i), UID: "DEADBEEF"})
	}
	if s, _ = f.l.Stock(ctx); !s.Low || s.Available != 53 {
		t.Errorf("after using the 42 loaded: available %d low %v, want 53 and low", s.Available, s.Low)
	}
}

func TestUnknownUIDIsExplicit(t *testing.T) {
	f := newFixture(t, nil)
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 2, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 2})
	ent := f.record(t, Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: "J1", Reason: ReasonJam})
	if ent.UID != UIDUnknown || !strings.Contains(string(ent.Data), `"uid":"unknown"`) {
		t.Errorf("spoiled without UID recorded %q in %s, want explicit %q", ent.UID, ent.Data, UIDUnknown)
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t, nil)
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 10, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 4})
	f.record(t, Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: "J0", Reason: ReasonPrint})
	cases := []struct {
		name string
		e    Event
		want string
	}{
		{"no actor", Event{Kind: Received, Quantity: 1, DeliveryRef: "D2"}, "no actor"},
		{"unknown kind", Event{Kind: "stolen", Actor: "x"}, "unknown event kind"},
		{"load more than storage", Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 7}, "storage holds 6"},
		{"unload more than printer", Event{Kind: Unloaded, Actor: "ani", Printer: "p1", Quantity: 4}, "it holds 3"},
		{"consume from empty printer", Event{Kind: Consumed, Actor: "engine", Printer: "p9", Job: "J1"}, "printer p9 holds no blanks"},
		{"consume without job", Event{Kind: Consumed, Actor: "engine", Printer: "p1"}, "no job"},
		{"spoil without reason", Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: "J1"}, "reason \"\" is not one of"},
		{"spoil in printer without job", Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Reason: ReasonJam}, "must name its job"},
		{"bad uid", Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "J1", UID: "zz"}, "not 4 to 20 bytes of hex"},
		{"destroy more than spoiled", Event{Kind: Destroyed, Actor: "ani", Quantity: 2, Witnesses: []string{"budi", "citra"}, RecordRef: "BA-1"}, "only 1 spoiled"},
		{"destroy with one witness", Event{Kind: Destroyed, Actor: "ani", Quantity: 1, Witnesses: []string{"budi"}, RecordRef: "BA-1"}, "exactly two witnesses"},
		{"destroy with same witness twice", Event{Kind: Destroyed, Actor: "ani", Quantity: 1, Witnesses: []string{"budi", "Budi "}, RecordRef: "BA-1"}, "different people"},
		{"destroy without record", Event{Kind: Destroyed, Actor: "ani", Quantity: 1, Witnesses: []string{"budi", "citra"}}, "no destruction record"},
		{"destroy uid count mismatch", Event{Kind: Destroyed, Actor: "ani", Quantity: 3, UIDs: []string{"DEADBEEF"}, Witnesses: []string{"budi", "citra"}, RecordRef: "BA-1"}, "does not match the 1 UIDs"},
		{"adjust with one approver", Event{Kind: Adjusted, Actor: "ani", Quantity: 1, Location: Storage, Reason: "recount", Approvers: []string{"budi"}}, "exactly two approvers"},
		{"adjust with same approver twice", Event{Kind: Adjusted, Actor: "ani", Quantity: 1, Location: Storage, Reason: "recount", Approvers: []string{"budi", "budi"}}, "different people"},
		{"adjust without reason", Event{Kind: Adjusted, Actor: "ani", Quantity: 1, Location: Storage, Approvers: []string{"budi", "dewi"}}, "no reason"},
		{"adjust below zero", Event{Kind: Adjusted, Actor: "ani", Quantity: -4, Location: InPrinter("p1"), Reason: "recount", Approvers: []string{"budi", "dewi"}}, "would leave printer p1 at -1"},
		{"adjust bad location", Event{Kind: Adjusted, Actor: "ani", Quantity: 1, Location: "van", Reason: "recount", Approvers: []string{"budi", "dewi"}}, "location \"van\""},
		{"shift close without witness", Event{Kind: ShiftClosed, Actor: "ani", Counted: map[string]int64{Storage: 6}}, "exactly one witness"},
		{"shift close witnessed by operator", Event{Kind: ShiftClosed, Actor: "ani", Witnesses: []string{"ani"}, Counted: map[string]int64{Storage: 6}}, "someone other than the operator"},
		{"received without delivery ref", Event{Kind: Received, Actor: "ani", Quantity: 5}, "no delivery reference"},
		{"half a serial range", Event{Kind: Received, Actor: "ani", Quantity: 5, DeliveryRef: "D3", SerialFirst: "A1"}, "both its first and last"},
	}
	before := f.count(t, "ledger_events")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.l.Record(context.Background(), c.e)
			var r *Refusal
			if !errors.Is(err, ErrRefused) || !errors.As(err, &r) {
				t.Fatalf("got %v, want a refusal", err)
			}
			if !strings.Contains(r.Reason, c.want) {
				t.Errorf("reason %q does not say %q", r.Reason, c.want)
			}
		})
	}
	if after := f.count(t, "ledger_events"); after != before {
		t.Errorf("refused events wrote rows: %d → %d", before, after)
	}
}

func TestAppendJoinsCallersTransaction(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 3, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 3})
	if _, err := f.db.Exec(`CREATE TABLE job_state(id TEXT PRIMARY KEY, state TEXT)`); err != nil {
		t.Fatal(err)
	}
	// The job's state change fails after the ledger append: both roll back.
	err := storage.InTx(ctx, f.db, func(tx *sql.Tx) error {
		if _, err := f.l.Append(ctx, tx, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "J1", UID: "04AABBCC"}); err != nil {
			return err
		}
		return errors.New("job update failed")
	})
	if err == nil {
		t.Fatal("want the transaction error")
	}
	if s, _ := f.l.Stock(ctx); s.Consumed != 0 || s.Printers["p1"] != 3 || s.Events != 2 {
		t.Errorf("rolled-back consume left a trace: %+v", s)
	}
	err = storage.InTx(ctx, f.db, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO job_state VALUES('J1', 'done')`); err != nil {
			return err
		}
		_, err := f.l.Append(ctx, tx, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "J1", UID: "04AABBCC"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := f.l.Stock(ctx); s.Consumed != 1 || s.Printers["p1"] != 2 {
		t.Errorf("committed consume: %+v", s)
	}
}

func TestTablesAreAppendOnly(t *testing.T) {
	f := newFixture(t, nil)
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 3, DeliveryRef: "D1"})
	if _, err := f.l.Checkpoint(context.Background(), f.db); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE ledger_events SET data = 'x'`,
		`DELETE FROM ledger_events`,
		`UPDATE ledger_hashes SET hash = x'00'`,
		`DELETE FROM ledger_hashes`,
		`DELETE FROM ledger_checkpoints`,
		`UPDATE ledger_checkpoints SET note = 'x'`,
		`DELETE FROM ledger_keys`,
		`UPDATE ledger_meta SET value = 'other'`,
		`DELETE FROM ledger_balance`,
	} {
		if _, err := f.db.Exec(q); err == nil || !strings.Contains(err.Error(), "refused") && !strings.Contains(err.Error(), "never deleted") {
			t.Errorf("%s: got %v, want the trigger to refuse it", q, err)
		}
	}
	if n := f.count(t, "ledger_events"); n != 1 {
		t.Errorf("events: %d rows, want 1", n)
	}
}

func TestCheckpointsAreSignedAndQueued(t *testing.T) {
	f := newFixture(t, nil) // every 10 events
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 100, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 100})
	for i := 0; i < 18; i++ {
		f.record(t, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: fmt.Sprint("J", i), UID: "04AABBCCDD"})
	}
	rows, err := f.db.Query(`SELECT key, body FROM test_outbox WHERE kind = 'checkpoint' ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var key string
		var body []byte
		if err := rows.Scan(&key, &body); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
		n, err := note.Open(body, note.VerifierList(f.verifier))
		if err != nil {
			t.Fatalf("queued checkpoint %s does not verify with the station key: %v", key, err)
		}
		if !strings.HasPrefix(n.Text, "printstation/jkt01/ledger\n") {
			t.Errorf("checkpoint text %q lacks the origin line", n.Text)
		}
	}
	if want := "printstation/jkt01/ledger@10 printstation/jkt01/ledger@20"; strings.Join(keys, " ") != want {
		t.Errorf("queued checkpoints %q, want %q", keys, want)
	}
	// Shift close signs one at once; a second checkpoint at the same size is
	// the same checkpoint, not a new one.
	f.record(t, Event{Kind: ShiftClosed, Actor: "ani", Witnesses: []string{"budi"}, Counted: map[string]int64{Storage: 0, InPrinter("p1"): 82}})
	c1, err := f.l.Checkpoint(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := f.l.Checkpoint(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Size != 21 || string(c1.Note) != string(c2.Note) {
		t.Errorf("checkpoints at 21: size %d, same note %v", c1.Size, string(c1.Note) == string(c2.Note))
	}
	if n := f.count(t, "test_outbox"); n != 3 {
		t.Errorf("outbox holds %d checkpoints, want 3 (10, 20, shift close at 21)", n)
	}
}

func TestStoreCosigned(t *testing.T) {
	centreSkey, centreVkey, err := note.GenerateKey(nil, "centre")
	if err != nil {
		t.Fatal(err)
	}
	centreSigner, _ := note.NewSigner(centreSkey)
	centreVerifier, _ := note.NewVerifier(centreVkey)
	f := newFixture(t, func(o *Options) { o.CentreVerifier = centreVerifier })
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 5, DeliveryRef: "D1"})
	c, err := f.l.Checkpoint(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	cosign := func(msg []byte, signers ...note.Signer) []byte {
		n, err := note.Open(msg, note.VerifierList(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		out, err := note.Sign(n, signers...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if err := f.l.StoreCosigned(ctx, c.Note); !errors.Is(err, ErrCosignature) {
		t.Errorf("checkpoint without the centre's signature: got %v, want ErrCosignature", err)
	}
	otherSkey, _, _ := note.GenerateKey(nil, "centre")
	other, _ := note.NewSigner(otherSkey)
	if err := f.l.StoreCosigned(ctx, cosign(c.Note, other)); !errors.Is(err, ErrCosignature) {
		t.Errorf("cosigned by another key named centre: got %v, want ErrCosignature", err)
	}
	forged := []byte(strings.Replace(string(cosign(c.Note, centreSigner)), "\n1\n", "\n2\n", 1))
	if err := f.l.StoreCosigned(ctx, forged); !errors.Is(err, ErrCosignature) {
		t.Errorf("edited checkpoint: got %v, want ErrCosignature", err)
	}
	if err := f.l.StoreCosigned(ctx, cosign(c.Note, centreSigner)); err != nil {
		t.Fatalf("good cosigned checkpoint: %v", err)
	}
	if n := f.count(t, "ledger_cosigned"); n != 1 {
		t.Errorf("%d cosigned checkpoints stored, want 1", n)
	}
}

func TestConcurrentAppenders(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	printers := []string{"p1", "p2", "p3", "p4"}
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 200, DeliveryRef: "D1"})
	for _, p := range printers {
		f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: p, Quantity: 25})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for _, p := range printers {
		wg.Go(func() {
			for i := 0; i < 20; i++ {
				kind := Consumed
				e := Event{Kind: kind, Actor: "engine", Printer: p, Job: fmt.Sprintf("%s-%d", p, i), UID: "04112233"}
				if i%5 == 4 {
					e.Kind, e.Reason = Spoiled, ReasonChipWrite
				}
				if _, err := f.l.Record(ctx, e); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s, err := f.l.Stock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Consumed != 64 || s.SpoiledAwaiting != 16 || s.Events != 85 {
		t.Errorf("after 4×20 concurrent cards: %+v", s)
	}
	for _, p := range printers {
		if s.Printers[p] != 5 {
			t.Errorf("printer %s holds %d, want 5", p, s.Printers[p])
		}
	}
	rep, err := Verify(ctx, f.db, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("verify after concurrent appends: %v", rep.Problems)
	}
}

func TestLoadOrCreateSigner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k", "ledger.key")
	s1, v1, err := LoadOrCreateSigner(path, "station-a")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v, want 0600", st.Mode(), err)
	}
	s2, _, err := LoadOrCreateSigner(path, "station-a")
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := note.Sign(&note.Note{Text: "hello\n"}, s2)
	if _, err := note.Open(msg, note.VerifierList(v1)); err != nil || s1.KeyHash() != s2.KeyHash() {
		t.Errorf("reloaded key does not match the created one: %v", err)
	}
	if _, _, err := LoadOrCreateSigner(path, "station-b"); err == nil || !strings.Contains(err.Error(), "station-a") {
		t.Errorf("wrong name: got %v", err)
	}
	os.Chmod(path, 0o644)
	if _, _, err := LoadOrCreateSigner(path, "station-a"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: got %v, want advice to chmod", err)
	}
}

func TestOpenRefusesOtherStationsDatabase(t *testing.T) {
	f := newFixture(t, nil)
	signer, _, _ := LoadOrCreateSigner(f.keyPath, "station-jkt01")
	_, err := Open(context.Background(), f.db, Options{StationID: "sby02", Signer: signer})
	if err == nil || !strings.Contains(err.Error(), `belongs to station "jkt01"`) {
		t.Errorf("got %v", err)
	}
}

type failingOutbox struct{}

func (failingOutbox) Enqueue(context.Context, storage.Execer, string, string, []byte) error {
	return errors.New("outbox table locked")
}

// A checkpoint that cannot be queued for the centre must not be signed and
// kept locally either: the event that triggered it is not written.
func TestCheckpointOutboxFailureRollsBack(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.CheckpointEvery = 2; o.Outbox = failingOutbox{} })
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 5, DeliveryRef: "D1"})
	_, err := f.l.Record(context.Background(), Event{Kind: Received, Actor: "ani", Quantity: 5, DeliveryRef: "D2"})
	if err == nil || !strings.Contains(err.Error(), "queue checkpoint 2 for cosigning") || errors.Is(err, ErrRefused) {
		t.Fatalf("got %v", err)
	}
	if n, c := f.count(t, "ledger_events"), f.count(t, "ledger_checkpoints"); n != 1 || c != 0 {
		t.Errorf("after the failed append: %d events, %d checkpoints; want 1 and 0", n, c)
	}
}

// Logs go to the journal: they may say what kind of event happened, never
// which card (chip UID) or whose job.
func TestLogsCarryNoCardOrJob(t *testing.T) {
	var buf strings.Builder
	log := zerolog.New(&buf)
	f := newFixture(t, func(o *Options) { o.Log = &log })
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 5, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 5})
	f.record(t, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "3174052304900001", UID: "04C0FFEE1234"})
	f.record(t, Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: "3174052304900002", UID: "04BADCAFE5", Reason: ReasonChipVerify})
	out := buf.String()
	for _, secret := range []string{"3174052304900001", "3174052304900002", "04C0FFEE1234", "04BADCAFE5"} {
		if strings.Contains(out, secret) {
			t.Errorf("log carries %s:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, `"kind":"consumed"`) || !strings.Contains(out, `"reason":"chip_verify"`) {
		t.Errorf("log does not say what happened:\n%s", out)
	}
}

// An auditor may run verify against the live file: it reads one snapshot,
// so appends landing meanwhile never look like tampering.
func TestVerifyWhileAppending(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.CheckpointEvery = 3 })
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 500, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 500})
	done := make(chan error)
	go func() {
		for i := 0; i < 150; i++ {
			if _, err := f.l.Record(ctx, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: fmt.Sprint("J", i), UID: "04AABBCC"}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
		rep, err := Verify(ctx, f.db, VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("verify during appends at %d events: %v", rep.Events, rep.Problems)
		}
	}
}

// After a crash the shutdown checkpoint is missing; the next start signs
// what the last run left unsigned and queues it for the centre.
func TestOpenSignsWhatACrashLeftUnsigned(t *testing.T) {
	f := newFixture(t, nil) // every 10
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 5, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 5})
	if n := f.count(t, "ledger_checkpoints"); n != 0 {
		t.Fatalf("%d checkpoints before the restart", n)
	}
	signer, _, _ := LoadOrCreateSigner(f.keyPath, "station-jkt01")
	if _, err := Open(ctx, f.db, Options{StationID: "jkt01", Signer: signer, Outbox: fakeOutbox{}}); err != nil {
		t.Fatal(err)
	}
	var size int64
	var key string
	if err := f.db.QueryRow(`SELECT c.size, o.key FROM ledger_checkpoints c JOIN test_outbox o`).Scan(&size, &key); err != nil || size != 2 || key != "printstation/jkt01/ledger@2" {
		t.Errorf("after restart: checkpoint at %d queued as %q (%v), want 2", size, key, err)
	}
	if _, err := Open(ctx, f.db, Options{StationID: "jkt01", Signer: signer, Outbox: fakeOutbox{}}); err != nil {
		t.Fatalf("a clean restart must not sign again: %v", err)
	}
}

// A mistyped quantity is refused, not recorded forever: beyond any real
// stock at all, and beyond the station's configured maximum.
func TestQuantityBounds(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxStock = 5000 })
	for _, c := range []struct {
		e    Event
		want string
	}{
		{Event{Kind: Received, Actor: "ani", Quantity: 9223372036854775000, DeliveryRef: "D1"}, "beyond any real stock"},
		{Event{Kind: Received, Actor: "ani", Quantity: 6000, DeliveryRef: "D1"}, "maximum stock of 5000"},
		{Event{Kind: Adjusted, Actor: "ani", Quantity: -9223372036854775000, Location: Storage, Reason: "x", Approvers: []string{"budi", "citra"}}, "beyond any real stock"},
	} {
		_, err := f.l.Record(context.Background(), c.e)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want a refusal saying %q", c.e, err, c.want)
		}
	}
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 4000, DeliveryRef: "D1"})
	if _, err := f.l.Record(context.Background(), Event{Kind: Received, Actor: "ani", Quantity: 1001, DeliveryRef: "D2"}); err == nil || !strings.Contains(err.Error(), "would leave 5001") {
		t.Errorf("second delivery over the maximum: %v", err)
	}
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 1000, DeliveryRef: "D2"})
}

// A signing key handed over as a systemd credential comes without its .pub
// file: the verifier key is derived from it, and matches the one made with
// the key.
func TestSignerFromCredentialAlone(t *testing.T) {
	dir := t.TempDir()
	_, v, err := LoadOrCreateSigner(filepath.Join(dir, "made.key"), "printstation/ST-1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "made.key"))
	cred := filepath.Join(dir, "creds", "printstation-ledger-key")
	os.MkdirAll(filepath.Dir(cred), 0o700)
	os.WriteFile(cred, b, 0o400)
	s, v2, err := LoadOrCreateSigner(cred, "printstation/ST-1")
	if err != nil {
		t.Fatal(err)
	}
	if v2.KeyHash() != v.KeyHash() || s.(interface{ VerifierKey() string }).VerifierKey() == "" {
		t.Errorf("derived verifier differs")
	}
	if _, err := os.Stat(cred + ".pub"); err == nil {
		t.Error("a .pub file was written beside the credential")
	}
}

// Checkpoints by time: events waiting unsigned longer than the age are
// signed; a young tail, or none, is left alone.
func TestCheckpointIfOlder(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.CheckpointEvery = 1000 })
	ctx := context.Background()
	if ok, err := f.l.CheckpointIfOlder(ctx, time.Minute); ok || err != nil {
		t.Fatalf("empty ledger: %v %v", ok, err)
	}
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 5, DeliveryRef: "D1"})
	if ok, _ := f.l.CheckpointIfOlder(ctx, time.Minute); !ok {
		t.Fatal("first events with no checkpoint at all were not signed")
	}
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 5})
	if ok, _ := f.l.CheckpointIfOlder(ctx, time.Hour); ok {
		t.Error("signed although the last checkpoint is younger than the age")
	}
	f.clock.t = f.clock.t.Add(2 * time.Hour)
	if ok, _ := f.l.CheckpointIfOlder(ctx, time.Hour); !ok {
		t.Error("an old unsigned tail was not signed")
	}
	if ok, _ := f.l.CheckpointIfOlder(ctx, 0); ok {
		t.Error("signed again with nothing new")
	}
}
