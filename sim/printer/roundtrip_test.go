package simprinter_test

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"printstation/printer"
	"printstation/printer/evolis"
	"printstation/printer/raster"
	"printstation/printer/tcp"
	simprinter "printstation/sim/printer"
)

// An image sent through raster, the Evolis driver and the simulator comes
// back as a PNG that matches it within the panels' precision, the right way
// round.
func TestRoundTrip(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, raster.Width, raster.Height))
	for y := 0; y < raster.Height; y++ {
		for x := 0; x < raster.Width; x++ {
			c := color.RGBA{uint8(x / 4), uint8(y * 255 / raster.Height), uint8(255 - x/4), 0xff}
			if x < 100 && y < 60 { // a marker in the top-left corner
				c = color.RGBA{0xff, 0, 0, 0xff}
			}
			src.SetRGBA(x, y, c)
		}
	}
	black := image.NewGray(src.Bounds())
	for i := range black.Pix {
		black.Pix[i] = 0xff
	}
	for x := 800; x < 1000; x++ {
		black.SetGray(x, 600, color.Gray{0})
	}
	for _, tc := range []struct {
		levels   int
		compress bool
	}{{32, true}, {64, false}, {128, true}} {
		dir := t.TempDir()
		sim, err := simprinter.Open(simprinter.Config{OutDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		dial := func(ctx context.Context) (printer.Conn, error) { return tcp.Wrap(sim.Pipe()), nil }
		d, err := evolis.Open(context.Background(), "pipe", dial, printer.Options{Name: "p1", Compress: tc.compress})
		if err != nil {
			t.Fatal(err)
		}
		ps, err := raster.Convert(src, black, raster.Options{Levels: tc.levels})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, step := range []func() error{
			func() error { return d.Feed(ctx) },
			func() error { return d.Print(ctx, printer.Front, ps) },
			func() error { return d.Eject(ctx) },
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		d.Close()
		sim.Close()
		f, err := os.Open(filepath.Join(dir, "card-000001-front.png"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		tol := 255/(tc.levels-1)/2 + 1
		worst := 0
		for y := 0; y < raster.Height; y++ {
			for x := 0; x < raster.Width; x++ {
				want := src.RGBAAt(x, y)
				if black.GrayAt(x, y).Y == 0 {
					want = color.RGBA{0, 0, 0, 0xff}
				}
				r, g, b, _ := got.At(x, y).RGBA()
				for _, d := range []int{int(r>>8) - int(want.R), int(g>>8) - int(want.G), int(b>>8) - int(want.B)} {
					if d < 0 {
						d = -d
					}
					if d > worst {
						worst = d
					}
				}
			}
		}
		if worst > tol {
			t.Errorf("%d levels: a channel is off by %d, want ≤ %d", tc.levels, worst, tol)
		}
		if r, g, _, _ := got.At(10, 10).RGBA(); r>>8 != 0xff || g>>8 > 8 {
			t.Errorf("%d levels: the red marker is not top left", tc.levels)
		}
	}
}
