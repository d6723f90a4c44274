package jobqueue_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"printstation/jobqueue"
	"printstation/sim/central"
)

// The NIK search answers with the data encrypted and after the purge; the
// NIK is nowhere in the database file, not even as a plain hash would
// betray it (only the keyed hash is stored).
func TestFindByNIKEncryptedAndAfterPurge(t *testing.T) {
	f := newFixture(t)
	f.q.PutTemplate(f.ctx, testTmplRef.ID, testTmplRef.SHA256, testTemplate)
	for n := 1; n <= 4; n++ {
		f.add(t, n)
	}
	per := central.NewPerson(3, nil)
	nik, name := per.Fields["nik"], per.Fields["nama"]
	want := f.spec(3).JobID

	// Written as people write it at the counter: groups with spaces.
	spaced := nik[:6] + " " + nik[6:12] + "-" + nik[12:]
	got, err := f.q.FindByNIK(f.ctx, spaced)
	if err != nil || len(got) != 1 || got[0].ID != want {
		t.Fatalf("FindByNIK(%q) = %v, %v; want job %s", "(nik)", ids(got), err, want)
	}
	if _, err := f.q.FindByNIK(f.ctx, "12345"); !errors.Is(err, jobqueue.ErrNotNIK) {
		t.Errorf("a short number: %v, want ErrNotNIK", err)
	}
	other := "9" + nik[1:]
	if got, err := f.q.FindByNIK(f.ctx, other); err != nil || len(got) != 0 {
		t.Errorf("another NIK finds %v, %v", ids(got), err)
	}

	// By name, any order of words, any case.
	words := strings.Fields(name)
	hits, err := f.q.FindByName(f.ctx, strings.ToLower(words[len(words)-1]+" "+words[0]), 10)
	if err != nil || len(hits) == 0 || hits[0].ID != want || hits[0].Name != name {
		t.Fatalf("FindByName: %+v, %v", hits, err)
	}
	if _, err := f.q.FindByName(f.ctx, "ab", 10); !errors.Is(err, jobqueue.ErrShortName) {
		t.Errorf("two letters: %v", err)
	}

	// Print and report it, then purge: the NIK still finds the job; the
	// name no longer does (its data is gone).
	db := f.q.DB()
	for _, st := range []jobqueue.State{jobqueue.Printing, jobqueue.Printed} {
		if err := f.q.SetState(f.ctx, db, want, st, ""); err != nil {
			t.Fatal(err)
		}
	}
	s := jobqueue.NewSyncer(f.q, &fakeCentral{}, jobqueue.SyncOptions{})
	if did, err := s.PushOnce(f.ctx); err != nil || !did {
		t.Fatalf("push: %v %v", did, err)
	}
	if n, err := f.q.Purge(f.ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	got, err = f.q.FindByNIK(f.ctx, nik)
	if err != nil || len(got) != 1 || !got[0].Purged || got[0].State != jobqueue.Printed {
		t.Fatalf("after the purge FindByNIK = %+v, %v; want the printed, purged job", got, err)
	}
	if hits, _ := f.q.FindByName(f.ctx, name, 10); len(hits) != 0 {
		t.Errorf("a purged job is still found by name: %v", hits)
	}
	if rep, err := f.q.Reported(f.ctx, want); err != nil || len(rep) == 0 {
		t.Errorf("Reported = %v, %v; want the acknowledgement", rep, err)
	}
	if h, err := f.q.History(f.ctx, want); err != nil || len(h) < 3 || h[len(h)-1].To != jobqueue.Printed {
		t.Errorf("History = %+v, %v", h, err)
	}

	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, f)
	for n := 1; n <= 4; n++ {
		p := central.NewPerson(uint64(n), nil)
		if bytes.Contains(raw, []byte(p.Fields["nik"])) {
			t.Errorf("the database file holds NIK %d in the clear", n)
		}
	}
}

// Jobs stored before the index existed are indexed when the queue opens.
func TestNIKIndexBackfill(t *testing.T) {
	f := newFixture(t)
	f.add(t, 1)
	if _, err := f.q.DB().Exec(`DELETE FROM job_nik_index`); err != nil {
		t.Fatal(err)
	}
	nik := central.NewPerson(1, nil).Fields["nik"]
	if got, _ := f.q.FindByNIK(f.ctx, nik); len(got) != 0 {
		t.Fatalf("index not emptied: %v", ids(got))
	}
	dataKey := make([]byte, 32)
	for i := range dataKey {
		dataKey[i] = byte(i * 7) // the fixture's key
	}
	q2, err := jobqueue.Open(f.ctx, f.q.DB(), jobqueue.Options{StationID: station,
		IssuerKeys: map[string]ed25519PublicKey{f.kid: f.key.Public().(ed25519PublicKey)}, DataKey: dataKey})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := q2.FindByNIK(f.ctx, nik); err != nil || len(got) != 1 {
		t.Fatalf("after reopening FindByNIK = %v, %v", ids(got), err)
	}
}

func ids(ms []jobqueue.JobMeta) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}
