package web

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"printstation/station"
)

// busyFake is a full shift's view: 40 batches, 4 printers, 20 jobs
// waiting for a person.
func busyFake() *fakeStation {
	f := newFake()
	f.batches = nil
	for i := range 40 {
		f.batches = append(f.batches, station.BatchState{ID: fmt.Sprintf("B-3201-%03d", i), State: "started", Total: 200, Printed: i * 5, Remaining: 200 - i*5})
	}
	f.printers = nil
	for i := range 4 {
		f.printers = append(f.printers, station.PrinterState{Name: fmt.Sprintf("p%d", i+1), State: "printing", Job: fmt.Sprintf("J-%d", i), Printed: 100 + i})
	}
	f.attention = nil
	for i := range 20 {
		f.attention = append(f.attention, station.Attention{Job: fmt.Sprintf("J-9%03d", i), Batch: "B-3201-001", State: "attention", Printer: "p1", Reason: "3 blanks spoiled"})
	}
	return f
}

func benchGet(b *testing.B, path string) {
	c := &client{t: &testing.T{}, h: New(busyFake(), Options{Log: zerolog.Nop()})}
	c.get("/")
	c.post("/signin", map[string][]string{"name": {"Sari"}, "role": {Operator}})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "127.0.0.1:8080"
		req.AddCookie(c.cookie)
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%s: %d", path, rec.Code)
		}
	}
}

// BenchmarkPage is a full page load (or a refresh without JavaScript).
func BenchmarkPage(b *testing.B) { benchGet(b, "/") }

// BenchmarkLive is what each engine event costs a browser that follows
// the live stream: the fragment only.
func BenchmarkLive(b *testing.B) { benchGet(b, "/live") }
