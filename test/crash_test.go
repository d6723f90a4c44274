package test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"printstation/inventory"
	"printstation/storage"
)

// TestCrashKill9 kills the daemon with SIGKILL at many random moments across
// batches (while starting, syncing, feeding, writing chips, printing,
// ejecting), restarts it each time, and then lets a person settle what the
// crash rule left uncertain. No job may have two cards, every blank the
// printers took must be in the ledger, and every job must have ended or
// wait for a person with its reason.
func TestCrashKill9(t *testing.T) {
	requirePcscd(t)
	kills := 50
	if testing.Short() {
		kills = 10
	}
	const jobs = 40
	s := newE2E(t, e2eOpts{jobs: jobs, batch: 10, printers: 2, vicc: true, speed: "40"})
	s.startDaemon()
	s.stock(100)
	s.startBatches(jobs)

	// The kill schedule is random; its seed is printed, and set with
	// PRINTSTATION_SOAK_SEED to replay a run.
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("PRINTSTATION_SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("PRINTSTATION_SOAK_SEED=%q: expected a number", v)
		}
		seed = n
	}
	t.Logf("kill schedule seed %d (PRINTSTATION_SOAK_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	killed := 0
	for killed < kills {
		// A random moment within the next three seconds of work.
		time.Sleep(time.Duration(100+rng.IntN(2900)) * time.Millisecond)
		s.daemon.cmd.Process.Signal(syscall.SIGKILL)
		<-s.daemon.done
		killed++
		s.daemon = startDaemon(t, s.cfg)
		if rng.IntN(4) == 0 {
			// Sometimes wait until it answers, so kills also land mid-batch
			// and not only during start-up.
			s.waitAnswering()
		}
		if s.settledQuiet() {
			break
		}
	}
	t.Logf("killed the daemon %d times", killed)
	s.waitAnswering()

	// A person settles the uncertain cards (spoils them: which card is which
	// after a crash is a person's call), then the station finishes.
	deadline := time.Now().Add(15 * time.Minute)
	for !s.settled() || s.uncertain() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("station did not finish after the crashes: %+v", s.status())
		}
		for _, job := range s.uncertainJobs() {
			out, code := s.ctlAs("tester", "", "attention", "spoil", job, "--reason", "unconfirmed after the crash")
			if code != 0 && !strings.Contains(out, "does not wait") {
				t.Logf("spoil %s: %s", job, out)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Every job: printed, or waiting for a person with a reason.
	st := s.status()
	if st.Queue["printed"]+st.Queue["attention"] != jobs {
		t.Errorf("jobs: %v, want all %d printed or in attention", st.Queue, jobs)
	}
	var as []struct{ Job, Reason string }
	json.Unmarshal([]byte(s.ctl("--json", "attention", "list")), &as)
	for _, a := range as {
		if a.Reason == "" {
			t.Errorf("job %s waits without a reason", a.Job)
		}
	}
	s.checkAgreement(st.Queue["printed"])

	// The crash rule's intent records are the reason no job got two cards;
	// show how many restarts found a card in flight: a blank fed (settled
	// by a person) or an intent written before the feed (back in the
	// queue). A soak that never hit a card in flight proved nothing.
	spoiledCrash := 0
	for _, r := range s.ledger() {
		if r.Kind == inventory.Spoiled && r.Reason == inventory.ReasonCrashUnconfirmed {
			spoiledCrash++
		}
	}
	s.stopDaemon()
	fed, notFed := s.intentsAtKills()
	t.Logf("soak seed %d: %d kills; %d printed; cards in flight at a kill: %d fed (%d spoiled by a person), %d intents before the feed", seed, killed, st.Queue["printed"], fed, spoiledCrash, notFed)
	if fed+notFed == 0 {
		t.Errorf("no kill hit a card in flight (seed %d): the soak tested nothing", seed)
	}
}

// intentsAtKills counts, in the stopped station's database, the intents a
// restart settled: a blank fed (uncertain, then a person's decision) or
// none fed yet.
func (s *e2e) intentsAtKills() (fed, notFed int) {
	ctx := context.Background()
	db, err := storage.OpenReadOnly(ctx, filepath.Join(s.dir, "state", "station.db"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM station_intents WHERE resolution LIKE 'uncertain_%'),
		(SELECT count(*) FROM station_intents WHERE resolution = 'not_fed')`).Scan(&fed, &notFed); err != nil {
		s.t.Fatal(err)
	}
	return fed, notFed
}

// settledQuiet is settled without failing the test when the daemon is
// still starting.
func (s *e2e) settledQuiet() bool {
	out, code := ctl(s.t, s.sock, "--json", "status")
	if code != 0 {
		return false
	}
	var st statusJSON
	if json.Unmarshal([]byte(out), &st) != nil || len(st.Batches) == 0 {
		return false
	}
	for _, b := range st.Batches {
		if b.Remaining != b.Waiting {
			return false
		}
	}
	return true
}

func (s *e2e) uncertain() int { return len(s.uncertainJobs()) }

func (s *e2e) uncertainJobs() []string {
	var as []struct{ Job, State string }
	json.Unmarshal([]byte(s.ctl("--json", "attention", "list")), &as)
	var out []string
	for _, a := range as {
		if a.State == "uncertain" {
			out = append(out, a.Job)
		}
	}
	return out
}
