package jobqueue_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/config"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/sim/central"
	"printstation/storage"
)

// centre starts a centralsim on 127.0.0.1 with mTLS and returns it with a
// client for station.
func centre(t testing.TB, f central.Faults) (*central.Server, string, central.StationFiles) {
	t.Helper()
	srv, err := central.New(central.Options{Dir: t.TempDir(), Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := srv.ServeTLS(l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hs.Close(); srv.Close() })
	files, err := srv.StationFiles(station)
	if err != nil {
		t.Fatal(err)
	}
	return srv, "https://" + l.Addr().String(), files
}

// pinnedKeys reads the centre's issuer key as a station config pins it.
func pinnedKeys(files central.StationFiles) (map[string]ed25519.PublicKey, error) {
	k, err := config.ReadIssuerKey(files.IssuerKeyFile)
	if err != nil {
		return nil, err
	}
	return map[string]ed25519.PublicKey{files.IssuerKID: k}, nil
}

func stationQueue(t testing.TB, files central.StationFiles, dbPath string) *jobqueue.Queue {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := pinnedKeys(files)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobqueue.Open(ctx, db, jobqueue.Options{StationID: station, IssuerKeys: keys, DataKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func client(t testing.TB, url string, files central.StationFiles) *jobqueue.Client {
	t.Helper()
	c, err := jobqueue.NewClient(jobqueue.ClientConfig{BaseURL: url, CertFile: files.CertFile, KeyFile: files.KeyFile, CAFile: files.CAFile, StationID: station})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond until it holds; the test's own deadline bounds it.
// waitFor polls cond; it gives up after three minutes so a stuck sync fails
// the test instead of eating the suite's time limit.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSyncThroughFlakyCentre(t *testing.T) {
	srv, url, files := centre(t, central.Faults{ErrorRate: 0.2, DropRate: 0.15, GarbageRate: 0.15})
	q := stationQueue(t, files, filepath.Join(t.TempDir(), "station.db"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	var cosigned []string
	s := jobqueue.NewSyncer(q, client(t, url, files), jobqueue.SyncOptions{
		PrefetchJobs: 40, Wait: time.Second, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, IdlePoll: 50 * time.Millisecond, OutcomeBatch: 7,
		OnCheckpoint: func(ctx context.Context, key, c string) error {
			mu.Lock()
			cosigned = append(cosigned, c)
			mu.Unlock()
			return nil
		},
	})
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	ids, err := srv.IssueJobs(station, 30, 10)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "30 queued jobs", func() bool {
		js, _ := q.Jobs(ctx, "", jobqueue.Queued)
		return len(js) == 30
	})
	bs, _ := q.Batches(ctx)
	if len(bs) != 3 {
		t.Errorf("%d batches, want 3", len(bs))
	}
	// A revocation reaches a queued job.
	srv.Revoke(station, ids[0])
	waitFor(t, "revocation", func() bool { m, _ := q.Meta(ctx, ids[0]); return m.State == jobqueue.Revoked })

	for _, id := range ids[1:] {
		for _, st := range []jobqueue.State{jobqueue.Printing, jobqueue.Printed} {
			if err := q.SetStateDetail(ctx, q.DB(), id, st, jobqueue.Detail{Printer: "p1", UID: "04AABBCC"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A checkpoint to witness, after the station enrolled its key with an
	// empty tree.
	skey, vkey, _ := note.GenerateKey(rand.Reader, "printstation/"+station)
	signer, _ := note.NewSigner(skey)
	first, _ := note.Sign(&note.Note{Text: string(inventory.FormatCheckpoint(inventory.Origin(station), tlog.Tree{}))}, signer)
	for {
		_, err := client(t, url, files).Enrol(ctx, "enrol-1", jobqueue.Enrolment{Epoch: 1, VKey: vkey, Checkpoint: string(first), Actor: "test", Reason: "first start"})
		if err == nil {
			break
		}
		var he *jobqueue.HTTPError
		if errors.As(err, &he) && he.Status < 500 {
			t.Fatal(err)
		}
	}
	cp, _ := note.Sign(&note.Note{Text: string(inventory.FormatCheckpoint(inventory.Origin(station), tlog.Tree{N: 12, Hash: tlog.RecordHash([]byte("x"))}))}, signer)
	if err := q.Outbox().Enqueue(ctx, q.DB(), jobqueue.KindCheckpoint, "checkpoint-12", cp); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all outcomes acknowledged", func() bool {
		st, _ := q.Outbox().Stats(ctx)
		return st.Pending == 0 && st.Acked >= 31
	})
	printed := map[string]int{}
	for _, o := range srv.Outcomes(station) {
		if o.Item.Outcome == "printed" {
			printed[o.Item.JobID]++
		}
	}
	for _, id := range ids[1:] {
		if printed[id] != 1 {
			t.Errorf("job %s: centre counts %d printed outcomes, want 1", id, printed[id])
		}
	}
	mu.Lock()
	if len(cosigned) != 1 {
		t.Fatalf("%d cosigned checkpoints handed over", len(cosigned))
	}
	wv, _ := note.NewVerifier(srv.WitnessVerifierKey())
	sv, _ := note.NewVerifier(vkey)
	n, err := note.Open([]byte(cosigned[0]), note.VerifierList(wv, sv))
	if err != nil || len(n.Sigs) != 2 {
		t.Errorf("cosigned checkpoint does not carry both signatures: %v", err)
	}
	mu.Unlock()
	// Purge follows acknowledgement.
	waitFor(t, "purge", func() bool { m, _ := q.Meta(ctx, ids[5]); return m.Purged })
	cancel()
	<-done
}

func TestStationCertificateBoundToStation(t *testing.T) {
	srv, url, files := centre(t, central.Faults{})
	other, _ := srv.StationFiles("ST-3273-01")
	c, err := jobqueue.NewClient(jobqueue.ClientConfig{BaseURL: url, CertFile: other.CertFile, KeyFile: other.KeyFile, CAFile: files.CAFile, StationID: station})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FetchJobs(context.Background(), "", 0, 10, 0)
	var he *jobqueue.HTTPError
	if !asHTTP(err, &he) || he.Status != http.StatusForbidden {
		t.Errorf("another station's certificate: %v, want 403", err)
	}
	// No certificate at all: the TLS handshake fails.
	_, err = jobqueue.NewClient(jobqueue.ClientConfig{BaseURL: url, CertFile: "/nonexistent.pem", KeyFile: "/nonexistent.key", CAFile: files.CAFile, StationID: station})
	if err == nil || !strings.Contains(err.Error(), "station certificate") {
		t.Errorf("missing cert: %v", err)
	}
	_ = ed25519.PublicKeySize
}

func TestCentreBadJobsRefusedAndReported(t *testing.T) {
	srv, url, files := centre(t, central.Faults{})
	q := stationQueue(t, files, filepath.Join(t.TempDir(), "station.db"))
	srv.IssueJobs(station, 2, 5)
	for _, f := range []central.Faults{{WrongSignature: 1}, {Expired: 1}, {OtherStation: 1}, {DuplicateIDs: 1}} {
		srv.SetFaults(f)
		if _, err := srv.IssueJobs(station, 1, 5); err != nil {
			t.Fatal(err)
		}
	}
	srv.SetFaults(central.Faults{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := jobqueue.NewSyncer(q, client(t, url, files), jobqueue.SyncOptions{Wait: time.Second, MinBackoff: 5 * time.Millisecond, IdlePoll: 20 * time.Millisecond})
	go s.Run(ctx)
	want := []jobqueue.Code{jobqueue.CodeBadSignature, jobqueue.CodeExpired, jobqueue.CodeWrongStation, jobqueue.CodeDuplicate}
	waitFor(t, "four refusals at the centre", func() bool {
		n := 0
		for _, o := range srv.Outcomes(station) {
			if o.Item.Outcome == "refused" {
				n++
			}
		}
		return n == len(want)
	})
	var reasons []string
	for _, o := range srv.Outcomes(station) {
		reasons = append(reasons, o.Item.Reason)
	}
	all := strings.Join(reasons, "\n")
	for _, c := range want {
		if !strings.Contains(all, string(c)+": ") {
			t.Errorf("no refusal with code %s among:\n%s", c, all)
		}
	}
	js, _ := q.Jobs(ctx, "", jobqueue.Queued, jobqueue.Received)
	if len(js) != 2 {
		t.Errorf("%d printable jobs, want the 2 good ones", len(js))
	}
}
