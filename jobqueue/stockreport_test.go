package jobqueue_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"printstation/jobqueue"
	"printstation/sim/central"
)

// A request for blanks against the reference centre: not taken while the
// centre fails, taken once but answered with garbage (the station cannot
// tell, and sends it again under the same key), then acknowledged with the
// centre's reference. The centre holds exactly one request, reached three
// times; the station keeps the reference with the item.
func TestBlankRequestRetriedNeverTwice(t *testing.T) {
	ctx := context.Background()
	srv, url, files := centre(t, central.Faults{ErrorRate: 1})
	q := stationQueue(t, files, filepath.Join(t.TempDir(), "station.db"))
	s := jobqueue.NewSyncer(q, client(t, url, files), jobqueue.SyncOptions{})
	o := q.Outbox()
	key := "blanks/" + station + "/web-0123456789abcdef"
	if err := o.Enqueue(ctx, q.DB(), jobqueue.KindBlankRequest, key, []byte(`{"id":"web-0123456789abcdef","quantity":500}`)); err != nil {
		t.Fatal(err)
	}
	state := func() jobqueue.Report {
		t.Helper()
		r, ok, err := o.Report(ctx, key)
		if err != nil || !ok {
			t.Fatalf("report %s: %v %v", key, ok, err)
		}
		return r
	}
	if _, err := s.PushOnce(ctx); err == nil {
		t.Fatal("a centre answering 503 acknowledged the request")
	}
	if r := state(); !r.AckedAt.IsZero() || r.Attempts != 1 || len(srv.BlankRequests(station)) != 0 {
		t.Fatalf("after an outage: %+v, centre holds %d", r, len(srv.BlankRequests(station)))
	}
	srv.SetFaults(central.Faults{GarbageRate: 1})
	for i := 0; i < 2; i++ {
		if _, err := s.PushOnce(ctx); err == nil {
			t.Fatal("a garbage answer acknowledged the request")
		}
	}
	if r := state(); !r.AckedAt.IsZero() {
		t.Fatalf("acknowledged on garbage: %+v", r)
	}
	srv.SetFaults(central.Faults{})
	if did, err := s.PushOnce(ctx); err != nil || !did {
		t.Fatalf("push with the centre up: %v %v", did, err)
	}
	got := srv.BlankRequests(station)
	if len(got) != 1 || got[0].Quantity != 500 || got[0].Posts != 3 {
		t.Fatalf("the centre holds %+v, want one request of 500 that reached it 3 times (the outage answered before it)", got)
	}
	if r := state(); r.AckedAt.IsZero() || r.Ref != got[0].Ref || r.Ref == "" || r.Refused != "" {
		t.Fatalf("the station's item after the acknowledgement: %+v (centre's reference %s)", r, got[0].Ref)
	}
	if did, err := s.PushOnce(ctx); err != nil || did {
		t.Fatalf("an acknowledged request is sent again: %v %v", did, err)
	}
}

// A report the centre refuses for good (here a request for 0 blanks) is
// kept with the centre's reason and does not hold back the one behind it;
// a stock report is acknowledged with the centre's reference.
func TestRefusedReportDoesNotBlock(t *testing.T) {
	ctx := context.Background()
	srv, url, files := centre(t, central.Faults{})
	q := stationQueue(t, files, filepath.Join(t.TempDir(), "station.db"))
	s := jobqueue.NewSyncer(q, client(t, url, files), jobqueue.SyncOptions{})
	o := q.Outbox()
	for i, qty := range []int{0, 20} {
		id := fmt.Sprintf("cli-request-%d", i)
		if err := o.Enqueue(ctx, q.DB(), jobqueue.KindBlankRequest, "blanks/"+id, []byte(fmt.Sprintf(`{"id":%q,"quantity":%d}`, id, qty))); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Enqueue(ctx, q.DB(), jobqueue.KindStock, "announce/x/2026-11-30/9", []byte(`{"day":"2026-11-30"}`)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.PushOnce(ctx); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	rs, err := o.Reports(ctx, jobqueue.KindBlankRequest, 10)
	if err != nil || len(rs) != 2 {
		t.Fatalf("reports: %v %+v", err, rs)
	}
	if r := rs[1]; r.AckedAt.IsZero() || r.Ref != "" || r.Refused == "" {
		t.Errorf("the refused request: %+v", r)
	}
	if r := rs[0]; r.AckedAt.IsZero() || r.Ref == "" || r.Refused != "" {
		t.Errorf("the request behind it: %+v", r)
	}
	if got := srv.BlankRequests(station); len(got) != 1 || got[0].Quantity != 20 {
		t.Errorf("the centre holds %+v", got)
	}
	st, err := o.Reports(ctx, jobqueue.KindStock, 10)
	if err != nil || len(st) != 1 || st[0].AckedAt.IsZero() || st[0].Ref != "LS-"+station+"-0001" {
		t.Errorf("the stock report: %v %+v", err, st)
	}
}
