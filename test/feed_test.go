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
	s := newE2E(t, e2eOpts{jobs: example.Queue.PrefetchJobs, batch: 50, printers: 1})
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
