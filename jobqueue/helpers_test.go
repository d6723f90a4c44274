package jobqueue_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"printstation/card"
	"printstation/jobqueue"
	"printstation/sim/central"
	"printstation/storage"
)

const station = "ST-3201-01"

var (
	testTemplate = card.DemoTemplateJSON()
	testTmplRef  = jobqueue.TemplateRef{ID: "ektp-demo-v1", SHA256: sha(testTemplate)}
	t0           = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
)

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

type fixture struct {
	q      *jobqueue.Queue
	path   string
	key    ed25519.PrivateKey
	kid    string
	now    time.Time
	ctx    context.Context
	dbPath string
}

func seedKey(n byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = n
	return ed25519.NewKeyFromSeed(seed)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "station.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{path: dir, dbPath: path, key: seedKey(1), kid: "issuer-2026-1", now: t0, ctx: ctx}
	dataKey := make([]byte, 32)
	for i := range dataKey {
		dataKey[i] = byte(i * 7)
	}
	f.q, err = jobqueue.Open(ctx, db, jobqueue.Options{
		StationID: station,
		IssuerKeys: map[string]ed25519.PublicKey{
			f.kid:           f.key.Public().(ed25519.PublicKey),
			"issuer-2025-9": seedKey(9).Public().(ed25519.PublicKey),
		},
		DataKey: dataKey,
		Now:     func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// spec makes a valid job spec for this station.
func (f *fixture) spec(n int) central.JobSpec {
	return central.JobSpec{
		Station: station, JobID: fmt.Sprintf("J-3201-%06d", n), Batch: "B-3201-20261124-01",
		Recorded: t0.Add(-time.Duration(n) * time.Hour), Issued: t0.Add(-time.Hour),
		Template: testTmplRef, KID: f.kid, Seed: uint64(n),
	}
}

func (f *fixture) sign(t testing.TB, p *jobqueue.Payload) string {
	t.Helper()
	s, err := central.Sign(f.key, f.kid, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) add(t testing.TB, n int) jobqueue.JobMeta {
	t.Helper()
	m, err := f.q.Add(f.ctx, f.sign(t, f.spec(n).Payload()))
	if err != nil {
		t.Fatalf("add job %d: %v", n, err)
	}
	return m
}
