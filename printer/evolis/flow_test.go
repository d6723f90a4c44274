package evolis_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"net"
	"testing"

	"printstation/printer"
	"printstation/printer/evolis"
	"printstation/printer/raster"
	"printstation/printer/tcp"
	simprinter "printstation/sim/printer"
)

// open connects a driver to sim through in-process pipes; every redial
// gets a fresh pipe, as a TCP reconnect would.
func open(t testing.TB, sim *simprinter.Sim, opts printer.Options) *evolis.Driver {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "p1"
	}
	dial := func(ctx context.Context) (printer.Conn, error) { return tcp.Wrap(sim.Pipe()), nil }
	d, err := evolis.Open(context.Background(), "pipe", dial, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func newSim(t testing.TB, cfg simprinter.Config) *simprinter.Sim {
	t.Helper()
	s, err := simprinter.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testCard is a card image with colour areas and a black layer with a bar.
func testCard() (*image.RGBA, *image.Gray) {
	img := image.NewRGBA(image.Rect(0, 0, raster.Width, raster.Height))
	for y := 0; y < raster.Height; y++ {
		for x := 0; x < raster.Width; x++ {
			c := color.RGBA{0xff, 0xff, 0xff, 0xff}
			switch {
			case x < 300:
				c = color.RGBA{uint8(y * 255 / raster.Height), 0x40, 0xc0, 0xff}
			case y < 200:
				c = color.RGBA{0xe0, 0x20, 0x20, 0xff}
			}
			img.SetRGBA(x, y, c)
		}
	}
	black := image.NewGray(image.Rect(0, 0, raster.Width, raster.Height))
	for i := range black.Pix {
		black.Pix[i] = 0xff
	}
	for y := 500; y < 560; y++ {
		for x := 400; x < 900; x++ {
			if (x/7)%2 == 0 {
				black.Pix[black.PixOffset(x, y)] = 0
			}
		}
	}
	return img, black
}

func TestWholeCard(t *testing.T) {
	ctx := context.Background()
	var events []simprinter.StationEvent
	sim := newSim(t, simprinter.Config{Feeder: 5, OnStation: func(e simprinter.StationEvent) { events = append(events, e) }})
	d := open(t, sim, printer.Options{Compress: true})
	img, black := testCard()
	front, err := raster.Convert(img, black, raster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	back, err := raster.Convert(img, black, raster.Options{Ribbon: "k"})
	if err != nil {
		t.Fatal(err)
	}
	before, err := d.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Feed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.MoveTo(ctx, printer.StationContactless); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Status(ctx); err != nil || st.Card != printer.PositionContactless {
		t.Fatalf("status at contactless = %+v, %v", st, err)
	}
	if err := d.Print(ctx, printer.Front, front); err != nil {
		t.Fatal(err)
	}
	if err := d.Print(ctx, printer.Back, back); err != nil {
		t.Fatal(err)
	}
	if err := d.Eject(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := d.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.CardsInserted != before.CardsInserted+1 {
		t.Errorf("cards inserted %d → %d, want +1", before.CardsInserted, after.CardsInserted)
	}
	if after.PanelsPrinted != before.PanelsPrinted+6 {
		t.Errorf("panels printed %d → %d, want +6", before.PanelsPrinted, after.PanelsPrinted)
	}
	want := []simprinter.StationEvent{{Card: 1, Arrived: true}, {Card: 1, Arrived: false}}
	if len(events) != 2 || events[0] != want[0] || events[1] != want[1] {
		t.Errorf("station events %v, want %v", events, want)
	}
	var kinds []string
	for _, e := range sim.Events() {
		kinds = append(kinds, e.Event)
	}
	if got := join(kinds); got != "blank_taken at_contactless printed printed card_out" {
		t.Errorf("journal %q", got)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

var _ = errors.Is
var _ net.Conn
