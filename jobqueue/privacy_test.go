package jobqueue_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"printstation/jobqueue"
	"printstation/sim/central"
)

// rawDB reads the database file and its WAL as bytes, as someone who copied
// the disk would.
func rawDB(t *testing.T, f *fixture) []byte {
	t.Helper()
	var all []byte
	for _, suf := range []string{"", "-wal"} {
		b, err := os.ReadFile(f.dbPath + suf)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestPersonalDataEncryptedAtRest(t *testing.T) {
	f := newFixture(t)
	f.q.PutTemplate(f.ctx, testTmplRef.ID, testTmplRef.SHA256, testTemplate)
	var ids []string
	for n := 1; n <= 5; n++ {
		ids = append(ids, f.add(t, n).ID)
	}
	per := central.NewPerson(3, nil)
	name, nik := per.Fields["nama"], per.Fields["nik"]
	raw := rawDB(t, f)
	if len(raw) < 50_000 {
		t.Fatalf("database and WAL hold only %d bytes; the jobs are not where the test looks", len(raw))
	}
	for _, s := range []string{name, nik, per.Fields["alamat"]} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("database file holds %q in clear", s)
		}
	}
	if bytes.Contains(raw, per.Photo[100:140]) || bytes.Contains(raw, per.Chip.Files[1].Data[:64]) {
		t.Error("database file holds photo or chip bytes in clear")
	}
	j, err := f.q.Load(f.ctx, ids[2])
	if err != nil {
		t.Fatal(err)
	}
	if j.Fields["nama"] != name || j.Fields["nik"] != nik || !bytes.Equal(j.Photo, per.Photo) || !bytes.Equal(j.Chip.Files[1].Data, per.Chip.Files[1].Data) {
		t.Error("Load does not give back the job's data")
	}

	// A ciphertext moved to another job's row does not open (job id is the AAD).
	db := f.q.DB()
	if _, err := db.Exec(`UPDATE job_data SET blob = (SELECT blob FROM job_data WHERE job_id = ?) WHERE job_id = ?`, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.q.Load(f.ctx, ids[1]); !errors.Is(err, jobqueue.ErrDecrypt) {
		t.Errorf("swapped ciphertext: %v, want ErrDecrypt", err)
	}
}

func TestPurgeAfterAcknowledgement(t *testing.T) {
	f := newFixture(t)
	f.q.PutTemplate(f.ctx, testTmplRef.ID, testTmplRef.SHA256, testTemplate)
	done, waiting := f.add(t, 1), f.add(t, 2)
	db := f.q.DB()
	var blob []byte
	db.QueryRow(`SELECT blob FROM job_data WHERE job_id = ?`, done.ID).Scan(&blob)
	for _, st := range []jobqueue.State{jobqueue.Printing, jobqueue.Printed} {
		if err := f.q.SetState(f.ctx, db, done.ID, st, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Not acknowledged yet: kept.
	if n, err := f.q.Purge(f.ctx); err != nil || n != 0 {
		t.Fatalf("purge before ack: %d %v", n, err)
	}
	// The centre acknowledges through a real push.
	fc := &fakeCentral{}
	s := jobqueue.NewSyncer(f.q, fc, jobqueue.SyncOptions{})
	if did, err := s.PushOnce(f.ctx); err != nil || !did {
		t.Fatalf("push: %v %v", did, err)
	}
	if n, err := f.q.Purge(f.ctx); err != nil || n != 1 {
		t.Fatalf("purge after ack: %d %v", n, err)
	}
	if _, err := f.q.Load(f.ctx, done.ID); !errors.Is(err, jobqueue.ErrPurged) {
		t.Errorf("Load after purge: %v", err)
	}
	m, _ := f.q.Meta(f.ctx, done.ID)
	if m.State != jobqueue.Printed || m.Batch == "" || !m.Purged {
		t.Errorf("row after purge: %+v", m)
	}
	if _, err := f.q.Load(f.ctx, waiting.ID); err != nil {
		t.Errorf("a queued job lost its data: %v", err)
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rawDB(t, f), blob[20:60]) {
		t.Error("the purged job's ciphertext is still in the database file")
	}
}

func TestRetentionKeepsDataForAWhile(t *testing.T) {
	f := newFixture(t)
	// Reopen with a retention on the same DB.
	q, err := jobqueue.Open(f.ctx, f.q.DB(), jobqueue.Options{StationID: station, IssuerKeys: map[string]ed25519PublicKey{f.kid: f.key.Public().(ed25519PublicKey)},
		DataKey: bytes.Repeat([]byte{1}, 32), Retention: 4 * time.Hour, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	q.PutTemplate(f.ctx, testTmplRef.ID, testTmplRef.SHA256, testTemplate)
	m, err := q.Add(f.ctx, f.sign(t, f.spec(1).Payload()))
	if err != nil {
		t.Fatal(err)
	}
	q.Cancel(f.ctx, q.DB(), m.ID, "operator")
	if _, err := jobqueue.NewSyncer(q, &fakeCentral{}, jobqueue.SyncOptions{}).PushOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Purge(f.ctx); n != 0 {
		t.Fatal("purged within the retention period")
	}
	f.now = f.now.Add(5 * time.Hour)
	if n, _ := q.Purge(f.ctx); n != 1 {
		t.Fatal("not purged after the retention period")
	}
}

func TestLoadDataKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "datakey")
	key, err := jobqueue.CreateDataKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("created with mode %o", fi.Mode().Perm())
	}
	got, err := jobqueue.LoadDataKey(p)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("LoadDataKey = %x, %v", got, err)
	}
	if _, err := jobqueue.CreateDataKey(p); err == nil {
		t.Error("CreateDataKey overwrote an existing key")
	}
	os.Chmod(p, 0o640)
	_, err = jobqueue.LoadDataKey(p)
	if !errors.Is(err, jobqueue.ErrKeyPermissions) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("group-readable key: %v", err)
	}
	cases := map[string][]byte{
		"raw":    bytes.Repeat([]byte{7}, 32),
		"base64": []byte("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"),
	}
	for name, content := range cases {
		q := filepath.Join(dir, name)
		os.WriteFile(q, content, 0o600)
		k, err := jobqueue.LoadDataKey(q)
		if err != nil || !bytes.Equal(k, bytes.Repeat([]byte{7}, 32)) {
			t.Errorf("%s: %x %v", name, k, err)
		}
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abcd"), 0o600)
	if _, err := jobqueue.LoadDataKey(short); err == nil {
		t.Error("short key accepted")
	}
	// systemd credential by name.
	cred := t.TempDir()
	os.WriteFile(filepath.Join(cred, "station-data-key"), bytes.Repeat([]byte{7}, 32), 0o400)
	t.Setenv("CREDENTIALS_DIRECTORY", cred)
	if k, err := jobqueue.LoadDataKey("station-data-key"); err != nil || k[0] != 7 {
		t.Errorf("credential: %v", err)
	}
	if _, err := jobqueue.LoadDataKey(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "create one") {
		t.Errorf("missing key: %v", err)
	}
}

func TestWrongDataKeyCannotRead(t *testing.T) {
	f := newFixture(t)
	m := f.add(t, 1)
	q, err := jobqueue.Open(f.ctx, f.q.DB(), jobqueue.Options{StationID: station, IssuerKeys: map[string]ed25519PublicKey{f.kid: f.key.Public().(ed25519PublicKey)},
		DataKey: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Load(f.ctx, m.ID); !errors.Is(err, jobqueue.ErrDecrypt) {
		t.Errorf("other key: %v", err)
	}
}

// fakeCentral accepts everything it is sent and records it.
type fakeCentral struct {
	outcomes []jobqueue.OutcomeItem
	keys     []string
	pages    []jobqueue.JobsPage
	fail     error
}

func (c *fakeCentral) FetchJobs(ctx context.Context, cursor string, wait time.Duration, max int, maxBytes int64) (jobqueue.JobsPage, error) {
	if c.fail != nil {
		return jobqueue.JobsPage{}, c.fail
	}
	if len(c.pages) == 0 {
		<-ctx.Done()
		return jobqueue.JobsPage{}, ctx.Err()
	}
	p := c.pages[0]
	c.pages = c.pages[1:]
	return p, nil
}
func (c *fakeCentral) FetchTemplate(ctx context.Context, id string) ([]byte, error) {
	return testTemplate, nil
}
func (c *fakeCentral) PostOutcomes(ctx context.Context, key string, items []jobqueue.OutcomeItem) (jobqueue.OutcomesAnswer, error) {
	if c.fail != nil {
		return jobqueue.OutcomesAnswer{}, c.fail
	}
	c.keys = append(c.keys, key)
	var acc []string
	for _, it := range items {
		c.outcomes = append(c.outcomes, it)
		acc = append(acc, it.Key)
	}
	return jobqueue.OutcomesAnswer{Accepted: acc}, nil
}
func (c *fakeCentral) PostCheckpoint(ctx context.Context, key string, cp jobqueue.CheckpointPost) (string, error) {
	return cp.Checkpoint + "— centre sig\n", c.fail
}
func (c *fakeCentral) PostStock(ctx context.Context, key string, report []byte) (string, error) {
	return "", c.fail
}
func (c *fakeCentral) PostBlankRequest(ctx context.Context, key string, req []byte) (string, error) {
	return "", c.fail
}

var _ = sql.ErrNoRows
