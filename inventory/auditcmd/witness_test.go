package auditcmd

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/sim/central"
	"printstation/storage"
)

// witnessed is a station whose ledger the reference centre witnesses.
type witnessed struct {
	dir    string
	url    string
	signer note.Signer
	srv    *central.Server
	cl     *jobqueue.Client
}

func newWitnessed(t *testing.T) *witnessed {
	t.Helper()
	w := &witnessed{dir: t.TempDir()}
	var err error
	if w.srv, err = central.New(central.Options{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.srv.Close() })
	hs := httptest.NewServer(w.srv)
	t.Cleanup(hs.Close)
	w.url = hs.URL
	if w.cl, err = jobqueue.NewClient(jobqueue.ClientConfig{BaseURL: hs.URL, StationID: "jkt01", Transport: http.DefaultTransport}); err != nil {
		t.Fatal(err)
	}
	if w.signer, _, err = inventory.LoadOrCreateSigner(filepath.Join(w.dir, "ledger.key"), "printstation/jkt01"); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *witnessed) open(t *testing.T, path string) (*inventory.Ledger, *sql.DB) {
	t.Helper()
	db, err := storage.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := inventory.Open(context.Background(), db, inventory.Options{StationID: "jkt01", Signer: w.signer, CheckpointEvery: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return l, db
}

// history records a day of a station: a delivery, a load, cards, one
// spoiled and destroyed unless skipSpoiled (the rewrite an insider wants).
func history(t *testing.T, l *inventory.Ledger, skipSpoiled bool) {
	t.Helper()
	rec := func(e inventory.Event) {
		t.Helper()
		if _, err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	rec(inventory.Event{Kind: inventory.Received, Actor: "ani", Quantity: 20, DeliveryRef: "DO-1"})
	rec(inventory.Event{Kind: inventory.Loaded, Actor: "ani", Printer: "p1", Quantity: 20})
	for i := 1; i <= 4; i++ {
		rec(inventory.Event{Kind: inventory.Consumed, Actor: "engine", Printer: "p1", Job: fmt.Sprint("J", i), UID: "04AABBCCDD"})
	}
	if !skipSpoiled {
		rec(inventory.Event{Kind: inventory.Spoiled, Actor: "engine", Printer: "p1", Job: "J5", Reason: inventory.ReasonPrint})
		rec(inventory.Event{Kind: inventory.Destroyed, Actor: "ani", Quantity: 1, Witnesses: []string{"budi", "citra"}, RecordRef: "BA-1"})
	}
	rec(inventory.Event{Kind: inventory.Consumed, Actor: "engine", Printer: "p1", Job: "J6", UID: "04AABBCCDE"})
}

// witness has the centre cosign the ledger as it stands, with the proof
// from what it cosigned before.
func (w *witnessed) witness(t *testing.T, l *inventory.Ledger, db *sql.DB) int64 {
	t.Helper()
	ctx := context.Background()
	cp, err := l.Checkpoint(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	from, _ := l.WitnessedSize(ctx)
	size, proof, err := l.ProveNote(ctx, cp.Note, from)
	if err != nil {
		t.Fatal(err)
	}
	cos, err := w.cl.PostCheckpoint(ctx, fmt.Sprint("cp", size), jobqueue.CheckpointPost{Checkpoint: string(cp.Note), OldSize: from, Proof: proof})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StoreCosigned(ctx, []byte(cos)); err != nil {
		t.Fatal(err)
	}
	return size
}

func (w *witnessed) enrol(t *testing.T, l *inventory.Ledger) {
	t.Helper()
	ctx := context.Background()
	cp, err := l.Enrol(ctx, "printstationd", "first start", 1, 0, tlog.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := w.cl.Enrol(ctx, "enrol-1", jobqueue.Enrolment{Epoch: 1, VKey: l.VerifierKey(), Checkpoint: string(cp.Note), Actor: "printstationd", Reason: "first start"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StoreCosigned(ctx, []byte(ans.Cosigned)); err != nil {
		t.Fatal(err)
	}
}

func (w *witnessed) export(t *testing.T) string {
	t.Helper()
	b, _ := json.Marshal(w.srv.Export("jkt01"))
	p := filepath.Join(t.TempDir(), "centre-jkt01.json")
	os.WriteFile(p, b, 0o644)
	return p
}

func runVerify(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"verify"}, args...), &out, &errb)
	return code, out.String() + errb.String()
}

// Events after the station's last local checkpoint are deleted (triggers
// dropped, stock fixed, the station's own checkpoint and cosignature of
// them removed). Checked against the centre, which witnessed them through
// a checkpoint by time, verify fails and names that checkpoint.
func TestVerifyAgainstCentreCatchesTailDelete(t *testing.T) {
	w := newWitnessed(t)
	path := filepath.Join(w.dir, "station.db")
	l, db := w.open(t, path)
	w.enrol(t, l)
	history(t, l, false)
	first := w.witness(t, l, db)
	ctx := context.Background()
	for _, j := range []string{"J7", "J8"} {
		if _, err := l.Record(ctx, inventory.Event{Kind: inventory.Consumed, Actor: "engine", Printer: "p1", Job: j, UID: "04AABBCCDF"}); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := l.CheckpointIfOlder(ctx, 0); !ok || err != nil {
		t.Fatalf("checkpoint by time: %v %v", ok, err)
	}
	last := w.witness(t, l, db)
	centre := w.export(t)
	for _, q := range []string{
		`DROP TRIGGER ledger_events_no_delete`, `DROP TRIGGER ledger_hashes_no_delete`,
		`DROP TRIGGER ledger_checkpoints_no_delete`, `DROP TRIGGER ledger_cosigned_no_delete`,
		fmt.Sprintf(`DELETE FROM ledger_events WHERE seq >= %d`, first),
		fmt.Sprintf(`DELETE FROM ledger_hashes WHERE idx >= %d`, tlog.StoredHashIndex(0, first)),
		fmt.Sprintf(`DELETE FROM ledger_checkpoints WHERE size > %d`, first),
		fmt.Sprintf(`DELETE FROM ledger_cosigned WHERE size > %d`, first),
		`UPDATE ledger_balance SET qty = qty + 2 WHERE bucket = 'printer:p1'`,
		`UPDATE ledger_balance SET qty = qty - 2 WHERE bucket = 'consumed'`,
		// The day totals would give the deletion away; without the table
		// the file reads as one from before it existed (a warning only).
		`DROP TABLE ledger_days`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	// On its own the doctored file is consistent: that is the attack.
	if code, out := runVerify(t, "--db", path); code != exitPass {
		t.Fatalf("without the centre the doctored file should still pass (the attack works locally): %d\n%s", code, out)
	}
	for _, src := range []string{centre, w.url + "/v1/stations/jkt01/checkpoints"} {
		code, out := runVerify(t, "--db", path, "--centre", src)
		if code != exitFail || !strings.Contains(out, fmt.Sprintf("centre-cosigned checkpoint at size %d", last)) || !strings.Contains(out, "deleted") {
			t.Errorf("tail delete checked against the centre (%s): exit %d\n%s", src, code, out)
		}
	}
}

// An insider with the station key writes a new history without the
// spoiled and destroyed card, signs its checkpoints and drops the
// cosignatures. Its own signatures verify; the centre's record does not
// match it.
func TestVerifyAgainstCentreCatchesRewrite(t *testing.T) {
	w := newWitnessed(t)
	l, db := w.open(t, filepath.Join(w.dir, "station.db"))
	w.enrol(t, l)
	history(t, l, false)
	size := w.witness(t, l, db)
	db.Close()
	centre := w.export(t)

	forged := filepath.Join(w.dir, "rewritten.db")
	fl, fdb := w.open(t, forged)
	if _, err := fl.Enrol(context.Background(), "printstationd", "first start", 1, 0, tlog.Hash{}); err != nil {
		t.Fatal(err)
	}
	history(t, fl, true)
	for fl2, _ := fl.Size(context.Background()); fl2 < size; fl2++ {
		fl.Record(context.Background(), inventory.Event{Kind: inventory.CounterReading, Actor: "engine", Printer: "p1", CardsInserted: fl2})
	}
	if _, err := fl.Checkpoint(context.Background(), fdb); err != nil {
		t.Fatal(err)
	}
	fdb.Close()
	vkey := filepath.Join(w.dir, "ledger.key.pub")
	wkey := filepath.Join(w.dir, "witness.vkey")
	os.WriteFile(wkey, []byte(w.srv.WitnessVerifierKey()+"\n"), 0o644)
	if code, out := runVerify(t, "--db", forged, "--key", vkey, "--centre-key", wkey); code != exitPass {
		t.Fatalf("the re-signed rewrite should pass on its own signatures (the attack): %d\n%s", code, out)
	}
	code, out := runVerify(t, "--db", forged, "--key", vkey, "--centre-key", wkey, "--centre", centre)
	if code != exitFail || !strings.Contains(out, fmt.Sprintf("centre-cosigned checkpoint at size %d", size)) || !strings.Contains(out, "does not reproduce its root") {
		t.Errorf("rewrite checked against the centre: exit %d\n%s", code, out)
	}
	// The untouched database passes against the same record.
	if code, out := runVerify(t, "--db", filepath.Join(w.dir, "station.db"), "--key", vkey, "--centre-key", wkey, "--centre", centre); code != exitPass {
		t.Errorf("the honest database against the centre: %d\n%s", code, out)
	}
}
