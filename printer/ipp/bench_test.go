package ipp_test

import (
	"context"
	"testing"
	"time"

	"printstation/card"
	"printstation/card/sample"
	"printstation/printer"
	_ "printstation/printer/evolis"
	"printstation/printer/ipp"
	"printstation/printer/ipp/ipptest"
	"printstation/printer/raster"
	simprinter "printstation/sim/printer"
)

// BenchmarkStationTimePerCard is the station's own time for one card's
// face at zero mechanical time, on each path:
//
//	evolis      raster panels (as the engine has them) → Evolis driver →
//	            printer simulator at full speed over an in-process pipe:
//	            feed, print the front, eject
//	ipp-eve     the composed face → 300 dpi PNG → Print-Job to a real
//	            ippeveprinter whose print command ends at once → job
//	            followed to completed (Get-Job-Attributes polled)
//	ipp-cups    the same through a real cupsd queue in front of it
//
// The IPP figures are given at the driver's default poll (200 ms) and at
// 20 ms: following a job by polling, the poll interval is most of the
// station time a card adds. docs/BENCHMARKS.md has the ratio.
func BenchmarkStationTimePerCard(b *testing.B) {
	color, black, err := card.Render(card.DemoTemplate(), sample.Fields(), sample.Photo(1), sample.Signature(1))
	if err != nil {
		b.Fatal(err)
	}
	var face = card.Composite(color, black)
	b.Run("evolis", func(b *testing.B) {
		var k = black
		front, err := raster.Convert(color, k, raster.Options{})
		if err != nil {
			b.Fatal(err)
		}
		sim, err := simprinter.Open(simprinter.Config{Feeder: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		defer sim.Close()
		d, err := printer.Open(context.Background(), "evolis", "tcp://sim:9100", printer.Options{Dial: sim.Dial, Compress: true})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		ctx := context.Background()
		for b.Loop() {
			if err := d.Feed(ctx); err != nil {
				b.Fatal(err)
			}
			if err := d.Print(ctx, printer.Front, front); err != nil {
				b.Fatal(err)
			}
			if err := d.Eject(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("png-encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := ipp.PNG(face); err != nil {
				b.Fatal(err)
			}
		}
	})
	eve := ipptest.StartEve(b, ipptest.EveOptions{})
	cups := ipptest.StartCUPS(b)
	queue := cups.Queue(b, "bench", eve.URI)
	for _, tc := range []struct {
		name string
		uri  string
		poll time.Duration
	}{
		{"ipp-eve/poll200ms", eve.URI, 0},
		{"ipp-eve/poll20ms", eve.URI, 20 * time.Millisecond},
		{"ipp-cups/poll200ms", queue, 0},
		{"ipp-cups/poll20ms", queue, 20 * time.Millisecond},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := ipp.Open(context.Background(), tc.uri, printer.Options{Name: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			d.SetPoll(tc.poll)
			ctx := context.Background()
			for b.Loop() {
				if _, err := d.PrintCard(ctx, ipp.Card{Title: "bench", Front: face}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
