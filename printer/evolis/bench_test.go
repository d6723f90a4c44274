package evolis_test

import (
	"context"
	"testing"

	"printstation/printer"
	"printstation/printer/evolis"
	"printstation/printer/raster"
	simprinter "printstation/sim/printer"
)

// cardPanels is an e-KTP-like card: YMCKO front (colour area, text and a
// barcode on the black layer), K back.
func cardPanels(b *testing.B, levels int) (*raster.Panels, *raster.Panels) {
	img, black := testCard()
	front, err := raster.Convert(img, black, raster.Options{Levels: levels})
	if err != nil {
		b.Fatal(err)
	}
	back, err := raster.Convert(img, black, raster.Options{Ribbon: "k"})
	if err != nil {
		b.Fatal(err)
	}
	return front, back
}

// BenchmarkEncodeCard: encoding every panel download of one card (front
// YMCKO + back K), and the bitmap bytes that go on the wire.
func BenchmarkEncodeCard(b *testing.B) {
	for _, tc := range []struct {
		name     string
		levels   int
		compress bool
	}{{"db-32", 32, false}, {"dbc-32", 32, true}, {"db-64", 64, false}, {"dbc-64", 64, true}} {
		b.Run(tc.name, func(b *testing.B) {
			front, back := cardPanels(b, tc.levels)
			var n int
			for b.Loop() {
				n = 0
				for _, ps := range []*raster.Panels{front, back} {
					for _, p := range ps.List() {
						n += len(evolis.Bitmap(p, tc.compress))
					}
				}
			}
			b.ReportMetric(float64(n), "bitmap-bytes/card")
		})
	}
}

// BenchmarkCardThroughSim: a whole card (feed, contactless, two sides,
// eject) through the driver and the simulator at full speed over an
// in-process pipe: the protocol's own cost per card.
func BenchmarkCardThroughSim(b *testing.B) {
	for _, compress := range []bool{false, true} {
		name := map[bool]string{false: "db", true: "dbc"}[compress]
		b.Run(name, func(b *testing.B) {
			front, back := cardPanels(b, 32)
			sim := newSim(b, simprinter.Config{Feeder: 1 << 30})
			d := open(b, sim, printer.Options{Compress: compress})
			ctx := context.Background()
			for b.Loop() {
				for _, step := range []func() error{
					func() error { return d.Feed(ctx) },
					func() error { return d.MoveTo(ctx, printer.StationContactless) },
					func() error { return d.Print(ctx, printer.Front, front) },
					func() error { return d.Print(ctx, printer.Back, back) },
					func() error { return d.Eject(ctx) },
				} {
					if err := step(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
