package station

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"printstation/inventory"
	"printstation/jobqueue"
)

// The day's announcement carries the ledger's figures: each total equals
// the day's events summed straight from the ledger table, and each place's
// stock on hand equals the ledger's live balance. What is queued for the
// centre is the same document; the same figures announced twice are one
// announcement, a change makes a new one.
func TestAnnouncementEqualsTheLedger(t *testing.T) {
	r := newRig(t, "p1", "p2")
	e, ids := r.batch(4) // receives 1000, loads 100 into each printer
	r.runUntil(r.allIn(ids, jobqueue.Printed))
	ctx := context.Background()
	for _, op := range []StockOp{
		{Op: "receive", Quantity: 250, DeliveryRef: "SJ-2", Actor: "gudang"},
		{Op: "unload", Quantity: 7, Printer: "p2", Actor: "gudang"},
		{Op: "destroy", Quantity: 1, RecordRef: "BA-1", Witnesses: []string{"sari", "ani"}, Actor: "sari"},
		{Op: "adjust", Quantity: -2, Location: "storage", Reason: "count", Approvers: []string{"sari", "ani"}, Actor: "sari"},
	} {
		if op.Op == "destroy" {
			if _, err := e.SpoilBlanks(ctx, "gudang", 3); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.RecordStock(ctx, op); err != nil {
			t.Fatalf("%s: %v", op.Op, err)
		}
	}
	day, err := e.StockDay(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The day's events, summed from the table.
	sums := map[inventory.Kind]int64{}
	rows, err := e.db.Query(`SELECT data FROM ledger_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d []byte
		rows.Scan(&d)
		en, err := inventory.ParseEntry(d)
		if err != nil {
			t.Fatal(err)
		}
		n := en.Quantity
		if en.Kind == inventory.Consumed || en.Kind == inventory.Spoiled {
			n = 1
		}
		sums[en.Kind] += n
	}
	rows.Close()
	st, err := e.Stock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := day.Period
	var spoiled int64
	for _, n := range p.Spoiled {
		spoiled += n
	}
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"received", p.Received, sums[inventory.Received]},
		{"loaded", p.Storage.Loaded, sums[inventory.Loaded]},
		{"unloaded", p.Storage.Unloaded, sums[inventory.Unloaded]},
		{"used", p.Consumed, sums[inventory.Consumed]},
		{"spoiled", spoiled, sums[inventory.Spoiled]},
		{"destroyed", p.Destroyed, sums[inventory.Destroyed]},
		{"on hand", p.Closing.Available, st.Available},
		{"storage", p.Storage.Closing, st.Storage},
		{"awaiting destruction", p.SpoiledClosing, st.SpoiledAwaiting},
	} {
		if c.got != c.want {
			t.Errorf("announcement %s: %d, the ledger says %d", c.what, c.got, c.want)
		}
	}
	for _, pp := range p.Printers {
		if pp.Closing != st.Printers[pp.Printer] {
			t.Errorf("announcement printer %s: %d on hand, the ledger says %d", pp.Printer, pp.Closing, st.Printers[pp.Printer])
		}
	}
	if sums[inventory.Consumed] != 4 || sums[inventory.Received] != 1250 || p.Destroyed != 1 {
		t.Fatalf("the test's own day is not what it set up: %v", sums)
	}

	rep, fresh, err := e.Announce(ctx, "sari")
	if err != nil || !fresh || rep.State != "waiting" || rep.By != "sari" || rep.Day != day.Day {
		t.Fatalf("announce: %+v %v %v", rep, fresh, err)
	}
	it, ok, err := e.outbox.Report(ctx, rep.Key)
	if err != nil || !ok || it.Kind != jobqueue.KindStock {
		t.Fatalf("the announcement is not in the outbox: %v %v", ok, err)
	}
	var sent announcement
	if err := json.Unmarshal(it.Body, &sent); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(sent.StockReport)
	b, _ := json.Marshal(day)
	if string(a) != string(b) || !sent.Announcement || sent.By != "sari" {
		t.Errorf("the centre gets other figures than the page shows:\n%s\n%s", a, b)
	}
	// Someone signs in (the people log is in the ledger): no figure moves.
	if _, err := e.ledger.Record(ctx, inventory.Event{Kind: inventory.ActionTaken, Actor: "ani", Via: inventory.ViaWeb, Action: "stock_announce", Subject: day.Day}); err != nil {
		t.Fatal(err)
	}
	if again, fresh, err := e.Announce(ctx, "sari"); err != nil || fresh || again.Key != rep.Key {
		t.Errorf("the same figures again: %+v fresh=%v %v", again, fresh, err)
	}
	if _, err := e.RecordStock(ctx, StockOp{Op: "load", Quantity: 5, Printer: "p1", Actor: "gudang"}); err != nil {
		t.Fatal(err)
	}
	if next, fresh, err := e.Announce(ctx, "sari"); err != nil || !fresh || next.Key == rep.Key {
		t.Errorf("after a change: %+v fresh=%v %v", next, fresh, err)
	}
	if as, err := e.Announcements(ctx, 10); err != nil || len(as) != 2 {
		t.Errorf("announcements: %d %v", len(as), err)
	}
}

// The request carries the forecast: the blanks used in the last 7 days
// averaged over 7, and the blanks ready to use divided by that. One id is
// one request however often it is made; bad input is refused by name.
func TestRequestForBlanksForecast(t *testing.T) {
	r := newRig(t, "p1")
	e, ids := r.batch(5)
	r.runUntil(r.allIn(ids, jobqueue.Printed))
	ctx := context.Background()
	st, err := e.Stock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, fresh, err := e.RequestBlanks(ctx, BlankRequest{ID: "web-forecast-0001", Quantity: 600, Note: "stok menipis", Actor: "sari"})
	if err != nil || !fresh {
		t.Fatal(err)
	}
	f := rep.Request.Forecast
	perDay := 5.0 / 7
	if f.WindowDays != 7 || f.Used != 5 || math.Abs(f.PerDay-perDay) > 1e-9 || f.Available != st.Available ||
		f.DaysLeft != math.Round(float64(st.Available)/perDay*10)/10 {
		t.Fatalf("forecast %+v, want 5 used in 7 days, %d available, %.1f days left", f, st.Available, math.Round(float64(st.Available)/perDay*10)/10)
	}
	if f.DaysLeft != 1393 { // 995 ready / (5/7) a day
		t.Errorf("days left %.1f, want 1393.0", f.DaysLeft)
	}
	if rep.State != "waiting" || rep.Request.Quantity != 600 || rep.Request.Station != "ST-T" || rep.Request.Actor != "sari" {
		t.Errorf("request %+v", rep)
	}
	if again, fresh, err := e.RequestBlanks(ctx, BlankRequest{ID: "web-forecast-0001", Quantity: 700, Actor: "sari"}); err != nil || fresh || again.Key != rep.Key || again.Request.Quantity != 600 {
		t.Errorf("the same id again: %+v fresh=%v %v", again, fresh, err)
	}
	if rs, err := e.BlankRequests(ctx, 10); err != nil || len(rs) != 1 {
		t.Errorf("requests: %d %v, want the one", len(rs), err)
	}
	for _, c := range []struct {
		req  BlankRequest
		want error
	}{
		{BlankRequest{ID: "short", Quantity: 1, Actor: "sari"}, ErrRequestID},
		{BlankRequest{ID: "web-has space-01", Quantity: 1, Actor: "sari"}, ErrRequestID},
		{BlankRequest{ID: "web-forecast-0002", Quantity: 0, Actor: "sari"}, ErrRequestQuantity},
		{BlankRequest{ID: "web-forecast-0003", Quantity: MaxBlankRequest + 1, Actor: "sari"}, ErrRequestQuantity},
		{BlankRequest{ID: "web-forecast-0004", Quantity: 5, Note: "a\nb", Actor: "sari"}, ErrRequestNote},
	} {
		if _, _, err := e.RequestBlanks(ctx, c.req); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.req, err, c.want)
		}
	}
}
