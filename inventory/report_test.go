package inventory

import (
	"context"
	"path/filepath"
	"printstation/internal/golden"
	"testing"
	"time"
)

// The daily report is what the centre parses: its shape is pinned.
func TestStockReportGolden(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.LowStock = 45 })
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 50, DeliveryRef: "DO-0042"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 20})
	f.record(t, Event{Kind: CounterReading, Actor: "engine", Printer: "p1", CardsInserted: 700})
	for i := 0; i < 5; i++ {
		f.record(t, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "J" + string(rune('a'+i)), UID: "04AABBCCDD"})
	}
	f.record(t, Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: "Jf", Reason: ReasonPrint})
	f.record(t, Event{Kind: Spoiled, Actor: "ani", Reason: ReasonDamaged})
	f.record(t, Event{Kind: CounterReading, Actor: "engine", Printer: "p1", CardsInserted: 706})
	f.record(t, Event{Kind: ShiftClosed, Actor: "ani", Witnesses: []string{"budi"}, Counted: map[string]int64{Storage: 29, InPrinter("p1"): 14}})
	b, err := f.l.StockReport(context.Background(), time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "stock-report.json")
	golden.Check(t, path, b)
}
