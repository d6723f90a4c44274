package station

import (
	"context"
	"testing"

	"printstation/jobqueue"
)

// TestClaimPastHeldJobs: the engine reads a batch's queued jobs a few at a
// time; when every one of those is held by another printer it reads on, and
// it claims in recording order, once each.
func TestClaimPastHeldJobs(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "p1")
	e := r.open()
	ids := r.addJobs("B1", 40)
	if err := e.SetBatch(ctx, "B1", "start", "op"); err != nil {
		t.Fatal(err)
	}
	// Another printer holds the first 35 (more than one read's worth).
	for _, id := range ids[:35] {
		e.held.Store(id, "p9")
	}
	for _, want := range ids[35:] {
		j, err := e.claim(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if j == nil || j.ID != want {
			t.Fatalf("claimed %v; want %s", j, want)
		}
		if m, _ := e.queue.Meta(ctx, want); m.State != jobqueue.Printing {
			t.Errorf("%s is %s after its claim; want printing", want, m.State)
		}
	}
	if j, err := e.claim(ctx, "p1"); j != nil || err != nil {
		t.Fatalf("a claim with every queued job held: %v, %v; want none", j, err)
	}
}
