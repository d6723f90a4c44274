package test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// The shipped example's prefetch window (400 jobs, 64 MiB) fills from the
// reference centre, end to end with real processes: the station asks for
// pages no larger than it accepts (a page of 400 demo jobs is ~19 MB, over
// the 16 MiB answer limit), so every page it asks for arrives.
func TestExampleConfigFillsPrefetchWindow(t *testing.T) {
	var example struct {
		Queue struct {
			PrefetchJobs int `toml:"prefetch_jobs"`
			PrefetchMB   int `toml:"prefetch_mb"`
		} `toml:"queue"`
	}
	if _, err := toml.DecodeFile(filepath.Join(repoRoot(t), "examples/demo.toml"), &example); err != nil {
		t.Fatal(err)
	}
	if example.Queue.PrefetchJobs < 400 {
		t.Fatalf("examples/demo.toml prefetch_jobs = %d; this test is about a window larger than one answer", example.Queue.PrefetchJobs)
	}
	// The centre starts empty (synthesising 400 jobs before it listens
	// takes longer than newE2E waits on a busy machine) and issues them
	// through its admin API once it serves.
	s := newE2E(t, e2eOpts{jobs: 0, batch: 50, printers: 1})
	admin := newCentreAdmin(t, s)
	admin.hc.Timeout = 3 * time.Minute // issuing 400 jobs takes a while on a busy machine
	admin.do("POST", "/admin/issue", fmt.Sprintf(`{"station":%q,"count":%d,"batch_size":50}`, s.station, example.Queue.PrefetchJobs), nil)
	f, err := os.OpenFile(s.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "[queue]\nprefetch_jobs = %d\nprefetch_mb = %d\n", example.Queue.PrefetchJobs, example.Queue.PrefetchMB)
	f.Close()
	s.startDaemon()
	waitFor(t, 3*time.Minute, func() bool {
		st := s.status()
		return st.Queue["queued"] == example.Queue.PrefetchJobs
	}, fmt.Sprintf("%d jobs queued (the example's whole prefetch window)", example.Queue.PrefetchJobs))
}
