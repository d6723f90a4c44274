package jobqueue_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"printstation/jobqueue"
	"printstation/sim/central"
	"printstation/storage"
)

// The child side of TestKilledDuringSync: a station that syncs and "prints"
// every queued job, until it holds want printed jobs and has reported them all.
func init() {
	if os.Getenv("JQ_CRASH_CHILD") == "" {
		return
	}
	os.Exit(crashChild())
}

func crashChild() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	files := central.StationFiles{CertFile: os.Getenv("JQ_CERT"), KeyFile: os.Getenv("JQ_KEY"), CAFile: os.Getenv("JQ_CA"), IssuerKeyFile: os.Getenv("JQ_ISSUER"), IssuerKID: os.Getenv("JQ_KID")}
	want, _ := strconv.Atoi(os.Getenv("JQ_WANT"))
	db, err := storage.Open(ctx, os.Getenv("JQ_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	keys, err := pinnedKeys(files)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	q, err := jobqueue.Open(ctx, db, jobqueue.Options{StationID: station, IssuerKeys: keys, DataKey: make([]byte, 32)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c, err := jobqueue.NewClient(jobqueue.ClientConfig{BaseURL: os.Getenv("JQ_URL"), CertFile: files.CertFile, KeyFile: files.KeyFile, CAFile: files.CAFile, StationID: station})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s := jobqueue.NewSyncer(q, c, jobqueue.SyncOptions{PrefetchJobs: 15, Wait: time.Second, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, IdlePoll: 20 * time.Millisecond, OutcomeBatch: 4})
	go s.Run(ctx)
	for {
		js, err := q.Jobs(ctx, "", jobqueue.Queued, jobqueue.Printing)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, j := range js {
			if j.State == jobqueue.Queued {
				if err := q.SetState(ctx, db, j.ID, jobqueue.Printing, ""); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
			if err := storage.InTx(ctx, db, func(tx *sql.Tx) error {
				return q.SetStateDetail(ctx, tx, j.ID, jobqueue.Printed, jobqueue.Detail{Printer: "p1"})
			}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		printed, _ := q.Jobs(ctx, "", jobqueue.Printed)
		st, _ := q.Outbox().Stats(ctx)
		if len(printed) >= want && st.Pending == 0 {
			return 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKilledDuringSync(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	srv, url, files := centre(t, central.Faults{LatencyMS: 20, GarbageRate: 0.05})
	const total = 80
	dbPath := filepath.Join(t.TempDir(), "station.db")
	env := append(os.Environ(), "JQ_CRASH_CHILD=1", "JQ_URL="+url, "JQ_CERT="+files.CertFile, "JQ_KEY="+files.KeyFile,
		"JQ_CA="+files.CAFile, "JQ_ISSUER="+files.IssuerKeyFile, "JQ_KID="+files.IssuerKID, "JQ_DB="+dbPath, "JQ_WANT="+strconv.Itoa(total))
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = env
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	issued := 0
	kills := 0
	for round := 0; round < 10; round++ {
		if issued < total {
			ids, err := srv.IssueJobs(station, 8, 5)
			if err != nil {
				t.Fatal(err)
			}
			issued += len(ids)
		}
		cmd := child()
		time.Sleep(time.Duration(30+rand.IntN(300)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL: no cleanup runs
		if err := cmd.Wait(); err == nil {
			t.Log("child finished before the kill")
		} else {
			kills++
		}
	}
	for issued < total {
		ids, _ := srv.IssueJobs(station, 8, 5)
		issued += len(ids)
	}
	// Last run to completion.
	cmd := child()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final child: %v", err)
	}
	t.Logf("%d kills", kills)

	ctx := context.Background()
	q := stationQueue(t, files, dbPath)
	all, err := q.Jobs(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]jobqueue.State{}
	for _, j := range all {
		have[j.ID] = j.State
	}
	for _, id := range srv.IssuedJobs(station) {
		if have[id] != jobqueue.Printed {
			t.Errorf("job %s is %q at the station, want printed", id, have[id])
		}
	}
	if len(all) != total {
		t.Errorf("station holds %d jobs, centre issued %d", len(all), total)
	}
	printed := map[string]int{}
	reposted := 0
	for _, o := range srv.Outcomes(station) {
		switch o.Item.Outcome {
		case "printed":
			printed[o.Item.JobID]++
		case "refused":
			t.Errorf("centre got a refusal (%s): a job was stored twice or broken", o.Item.Reason)
		}
		if o.Posts > 1 {
			reposted++
		}
	}
	for _, id := range srv.IssuedJobs(station) {
		if printed[id] != 1 {
			t.Errorf("job %s: %d printed outcomes at the centre, want 1", id, printed[id])
		}
	}
	t.Logf("%d outcome keys were posted more than once (retries after kills), each counted once", reposted)
}
