package station

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"printstation/config"
	"printstation/jobqueue"
	"printstation/sim/central"
)

// witnessRig is a rig whose station talks to a reference centre over mTLS.
func witnessRig(t *testing.T) (*rig, *central.Server, central.StationFiles) {
	t.Helper()
	r := newRig(t, "p1")
	srv, err := central.New(central.Options{Dir: filepath.Join(r.dir, "central")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	files, err := srv.StationFiles("ST-T")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := srv.ServeTLS(ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close() })
	c := &r.cfg.Central
	c.URL, c.ClientCert, c.ClientKey, c.CAFile = "https://"+ln.Addr().String(), files.CertFile, files.KeyFile, files.CAFile
	c.IssuerKeys = append(c.IssuerKeys, config.IssuerKey{ID: files.IssuerKID, File: files.IssuerKeyFile})
	c.PollSeconds = 1
	c.WitnessKey = srv.WitnessVerifierKey()
	r.cfg.Engine.CheckpointEvery = 3
	r.sync = func(o *jobqueue.SyncOptions) {
		o.IdlePoll = 50 * time.Millisecond
		o.MinBackoff, o.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	return r, srv, files
}

// awaitHeld starts AwaitWitness and waits until it holds printing; it
// returns the reason.
func awaitHeld(t *testing.T, e *Engine) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.AwaitWitness(ctx) }()
	defer func() { cancel(); <-done }()
	end := time.Now().Add(20 * time.Second)
	for time.Now().Before(end) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("AwaitWitness returned %v; the database should have been held", err)
		default:
		}
		if w := e.Witness(); w.State == "held" {
			if !strings.Contains(w.Reason, "printstationctl enrol") || !strings.HasPrefix(e.StatusLine(), "held: ") {
				t.Errorf("held without saying what to do: %q / status %q", w.Reason, e.StatusLine())
			}
			t.Logf("held: %s", w.Reason)
			return w.Reason
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never held; witness state %+v", e.Witness())
	return ""
}

// witnessedSize is the size of the last checkpoint the centre cosigned
// for the rig's station.
func witnessedSize(srv *central.Server) int64 {
	cps := srv.Export("ST-T").Checkpoints
	if len(cps) == 0 {
		return 0
	}
	return cps[len(cps)-1].Size
}

// backup copies the engine's database as it is now.
func (r *rig) backup(e *Engine) string {
	r.t.Helper()
	path := filepath.Join(r.dir, "backup.db")
	if _, err := e.db.Exec(`VACUUM INTO ?`, path); err != nil {
		r.t.Fatal(err)
	}
	return path
}

// restore puts a backup in place of the database (for reopen), as an
// insider restoring an old copy would.
func restore(t *testing.T, backup string) func(db string) {
	return func(db string) {
		os.Remove(db + "-wal")
		os.Remove(db + "-shm")
		b, err := os.ReadFile(backup)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(db, b, 0o600)
	}
}

// reopen closes the engine's database, lets mutate change the files, and
// opens a new engine on them, as a restart of the daemon would.
func (r *rig) reopen(mutate func(db string)) *Engine {
	r.t.Helper()
	r.eng.db.Close()
	mutate(filepath.Join(r.dir, "station.db"))
	return r.open()
}

// The attacks of an insider with root on the station: restoring an older
// backup, or deleting the database, and restarting. The centre witnessed
// more than either database holds, so the station refuses to print and
// says what to do; the centre does not serve the printed jobs again; and
// only an explicit re-enrolment, recorded at both ends, lets it go on.
func TestStationCannotStartOverUnseen(t *testing.T) {
	r, srv, files := witnessRig(t)
	ids, err := srv.IssueJobs("ST-T", 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	e := r.open()
	ctx := context.Background()
	if err := e.AwaitWitness(ctx); err != nil {
		t.Fatal(err)
	}
	if ens := srv.Enrolments("ST-T"); len(ens) != 1 || ens[0].Epoch != 1 {
		t.Fatalf("first start did not enrol: %+v", ens)
	}
	backup := r.backup(e)
	r.stock("p1")
	witnessed := func() int64 { return witnessedSize(srv) }
	r.runUntil(func() bool {
		bs, _ := e.queue.Batches(ctx)
		for _, b := range bs {
			e.SetBatch(ctx, b.ID, "start", "op")
		}
		js, _ := e.queue.Jobs(ctx, "", jobqueue.Printed)
		if len(js) < len(ids) {
			return false
		}
		// A quiet station signs its tail by time (here: at once).
		e.ledger.CheckpointIfOlder(ctx, 0)
		size, _ := e.ledger.Size(ctx)
		printed := 0
		for _, o := range srv.Outcomes("ST-T") {
			if o.Item.Outcome == "printed" {
				printed++
			}
		}
		return printed == len(ids) && witnessed() == size
	})
	size := witnessed()

	// 1. A backup from before the cards were printed is restored.
	e = r.reopen(restore(t, backup))
	if why := awaitHeld(t, e); !strings.Contains(why, "does not extend") {
		t.Errorf("restored backup held for: %s", why)
	}

	// 2. The database is deleted.
	e = r.reopen(func(db string) {
		for _, f := range []string{db, db + "-wal", db + "-shm"} {
			os.Remove(f)
		}
	})
	if why := awaitHeld(t, e); !strings.Contains(why, "never been enrolled") {
		t.Errorf("empty database held for: %s", why)
	}
	// Whatever the station asks, the centre does not hand out the printed
	// jobs again.
	cl, err := jobqueue.NewClient(jobqueue.ClientConfig{BaseURL: r.cfg.Central.URL, CertFile: files.CertFile, KeyFile: files.KeyFile, CAFile: files.CAFile, StationID: "ST-T"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := cl.FetchJobs(ctx, "", 0, 100, 0)
	if err != nil || len(page.Jobs) != 0 {
		t.Errorf("the centre serves %d jobs again to a station that started over (%v)", len(page.Jobs), err)
	}

	// 3. Re-enrolment: explicit, by a named admin with a reason.
	if _, err := e.Reenrol(ctx, "", "oops"); err == nil {
		t.Error("re-enrolment without a name was accepted")
	}
	ans, err := e.Reenrol(ctx, "budi (admin)", "disk failed; database lost")
	if err != nil {
		t.Fatal(err)
	}
	ens := srv.Enrolments("ST-T")
	if ans.Epoch != 2 || len(ens) != 2 || ens[1].Actor != "budi (admin)" || ens[1].Reason != "disk failed; database lost" || ens[1].PrevSize != size {
		t.Errorf("re-enrolment at the centre: %+v (answer %+v), want epoch 2 after %d witnessed events", ens, ans, size)
	}
	if ep, _ := e.ledger.Epoch(ctx); ep != 2 {
		t.Errorf("the new ledger records epoch %d, want 2", ep)
	}
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := e.AwaitWitness(actx); err != nil {
		t.Errorf("after re-enrolment: %v (%+v)", err, e.Witness())
	}
	if _, err := e.Reenrol(ctx, "budi", "again"); err == nil || !strings.Contains(err.Error(), "no re-enrolment is needed") {
		t.Errorf("a needless re-enrolment: %v", err)
	}

	// 4. The old database (epoch 1) is brought back after the re-enrolment.
	e = r.reopen(func(db string) {
		for _, f := range []string{db, db + "-wal", db + "-shm"} {
			os.Remove(f)
		}
		b, _ := os.ReadFile(backup)
		os.WriteFile(db, b, 0o600)
	})
	if why := awaitHeld(t, e); !strings.Contains(why, "old or foreign copy") {
		t.Errorf("epoch-1 copy after re-enrolment held for: %s", why)
	}
}

// A station restarted while the centre is unreachable (a power cut in an
// outage) waits; a supervisor's recorded decision lets it print. When the
// centre answers again the check runs, and a database that does not
// extend the centre's record (here: a restored backup) is held at once.
func TestOfflineStartReleasedThenHeldWhenTheCentreAnswers(t *testing.T) {
	r, srv, _ := witnessRig(t)
	// The centre on a listener this test can cut and bring back.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	hs, err := srv.ServeTLS(ln)
	if err != nil {
		t.Fatal(err)
	}
	r.cfg.Central.URL = "https://" + addr
	ctx := context.Background()
	e := r.open()
	if err := e.AwaitWitness(ctx); err != nil {
		t.Fatal(err)
	}
	backup := r.backup(e)
	r.stock("p1")
	witnessed := func() int64 { return witnessedSize(srv) }
	r.runUntil(func() bool {
		e.ledger.CheckpointIfOlder(ctx, 0)
		size, _ := e.ledger.Size(ctx)
		return witnessed() == size
	})

	// The link goes down, the backup is restored, the station restarts.
	hs.Close()
	e = r.reopen(restore(t, backup))
	if err := e.ReleaseOffline("sari", "power cut"); err == nil {
		t.Error("released before the check even started")
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.AwaitWitness(actx) }()
	waitState := func(want string) WitnessState {
		t.Helper()
		end := time.Now().Add(25 * time.Second)
		for time.Now().Before(end) {
			if w := e.Witness(); w.State == want {
				return w
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("witness state never %q: %+v", want, e.Witness())
		return WitnessState{}
	}
	waitState("waiting")
	if l := e.CentralLink().Ledger; l != "waiting" {
		t.Errorf("the page's link shows ledger %q while nothing may print, want waiting", l)
	}
	select {
	case err := <-done:
		t.Fatalf("printing started without the centre and without a person: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := e.ReleaseOffline("", "power cut"); err == nil {
		t.Error("a release without a name was accepted")
	}
	if err := e.ReleaseOffline("sari", "power cut; link down since 08:00"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("released, AwaitWitness: %v", err)
	}
	if w := waitState("offline"); !strings.Contains(w.Reason, "sari") || !strings.HasPrefix(e.StatusLine(), "offline start: ") {
		t.Errorf("offline start not shown with who released it: %+v / %q", w, e.StatusLine())
	}
	// The centre answers again: this database is an old copy.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on the centre's address again: %v", err)
	}
	hs2, err := srv.ServeTLS(ln2)
	if err != nil {
		t.Fatal(err)
	}
	defer hs2.Close()
	if w := waitState("held"); !strings.Contains(w.Reason, "does not extend") {
		t.Errorf("held for: %s", w.Reason)
	}
}
