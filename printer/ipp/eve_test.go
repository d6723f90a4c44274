package ipp_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"printstation/card"
	"printstation/card/sample"
	"printstation/printer"
	"printstation/printer/ipp"
	"printstation/printer/ipp/ipptest"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// renderCard draws the demo e-KTP card as the engine does.
func renderCard(t testing.TB, seed int) *image.RGBA {
	t.Helper()
	color, black, err := card.Render(card.DemoTemplate(), sample.Fields(), sample.Photo(seed), sample.Signature(seed))
	if err != nil {
		t.Fatal(err)
	}
	if black == nil {
		return color
	}
	return card.Composite(color, black)
}

func open(t testing.TB, uri string, print time.Duration) *ipp.Driver {
	t.Helper()
	d, err := printer.Open(context.Background(), "ipp", uri, printer.Options{Name: "q1", Timeouts: printer.Timeouts{Print: print}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dr, ok := d.(*ipp.Driver)
	if !ok {
		t.Fatalf("printer.Open(ipp) gave %T", d)
	}
	dr.SetPoll(50 * time.Millisecond)
	return dr
}

func samePixels(t testing.TB, what string, got, want image.Image) {
	t.Helper()
	if got.Bounds().Size() != want.Bounds().Size() {
		t.Fatalf("%s: %v, want %v", what, got.Bounds().Size(), want.Bounds().Size())
	}
	gb, wb := got.Bounds(), want.Bounds()
	for y := 0; y < wb.Dy(); y++ {
		for x := 0; x < wb.Dx(); x++ {
			r1, g1, b1, _ := got.At(gb.Min.X+x, gb.Min.Y+y).RGBA()
			r2, g2, b2, _ := want.At(wb.Min.X+x, wb.Min.Y+y).RGBA()
			if r1>>8 != r2>>8 || g1>>8 != g2>>8 || b1>>8 != b2>>8 {
				t.Fatalf("%s: pixel (%d,%d) = %d,%d,%d, the rendered card has %d,%d,%d", what, x, y, r1>>8, g1>>8, b1>>8, r2>>8, g2>>8, b2>>8)
			}
		}
	}
}

// One side goes as a 300 dpi PNG; the printer receives exactly the
// rendered card and the job ends completed.
func TestEvePrintsTheRenderedCard(t *testing.T) {
	eve := ipptest.StartEve(t, ipptest.EveOptions{})
	d := open(t, eve.URI, 30*time.Second)
	ctx := ctxT(t, time.Minute)
	front := renderCard(t, 1)
	job, err := d.PrintCard(ctx, ipp.Card{Title: "job J-1", Front: front})
	if err != nil {
		t.Fatalf("PrintCard: %v\n%s", err, eve.Log())
	}
	if job.State != "completed" || job.ID <= 0 || job.Format != "image/png" {
		t.Fatalf("job = %+v, want completed image/png", job)
	}
	docs := eve.Documents()
	if len(docs) != 1 {
		t.Fatalf("printer received %d documents, want 1: %v", len(docs), docs)
	}
	raw, err := os.ReadFile(docs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw[:64], []byte("pHYs\x00\x00\x2e\x23\x00\x00\x2e\x23\x01")) {
		t.Errorf("the PNG does not say 300 dpi (pHYs 11811 dots/m): the queue would scale the card to a page")
	}
	got, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	samePixels(t, "received front", got, front)
	env := ipptest.Env(docs[0])
	if env["IPP_SIDES"] != "one-sided" || env["IPP_JOB_NAME"] != "job J-1" {
		t.Errorf("job attributes at the printer: sides %q, name %q", env["IPP_SIDES"], env["IPP_JOB_NAME"])
	}
}

// A card with a back goes as a two-page PDF of card size, printed
// two-sided-long-edge; rasterized again, each page is its side.
func TestEveDuplexPDF(t *testing.T) {
	ipptest.Need(t, "pdftoppm")
	eve := ipptest.StartEve(t, ipptest.EveOptions{Duplex: true})
	d := open(t, eve.URI, 30*time.Second)
	ctx := ctxT(t, time.Minute)
	front, back := renderCard(t, 2), ipp.TestImage()
	job, err := d.PrintCard(ctx, ipp.Card{Title: "job J-2", Front: front, Back: back})
	if err != nil {
		t.Fatalf("PrintCard: %v\n%s", err, eve.Log())
	}
	if job.Format != "application/pdf" {
		t.Fatalf("format %q, want application/pdf for two sides", job.Format)
	}
	docs := eve.Documents()
	if len(docs) != 1 || !strings.HasSuffix(docs[0], ".pdf") {
		t.Fatalf("documents %v, want one PDF", docs)
	}
	if env := ipptest.Env(docs[0]); env["IPP_SIDES"] != "two-sided-long-edge" {
		t.Errorf("sides at the printer %q, want two-sided-long-edge", env["IPP_SIDES"])
	}
	dir := t.TempDir()
	out, err := exec.Command("pdftoppm", "-r", "300", "-png", docs[0], filepath.Join(dir, "page")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	if len(pages) != 2 {
		t.Fatalf("the PDF has %d pages, want 2", len(pages))
	}
	for i, want := range []image.Image{front, back} {
		f, err := os.Open(pages[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		// At 300 dpi a card-size page is 1011×637 (the PDF page is the
		// card, 85.60×53.98 mm); compare scaled, by mean difference.
		if sz := got.Bounds().Size(); sz.X < 1005 || sz.X > 1020 || sz.Y < 632 || sz.Y > 650 {
			t.Fatalf("page %d is %v at 300 dpi, want card size (about 1011×637)", i+1, sz)
		}
		if diff := meanDiff(got, want); diff > 12 {
			t.Errorf("page %d differs from its side by %.1f levels on average", i+1, diff)
		}
	}
	// The other side's picture must not match: the test can tell pages apart.
	if diff := meanDiff(front, back); diff < 20 {
		t.Fatalf("test images too alike (%.1f)", diff)
	}
}

// meanDiff compares two images sampled on a grid, scaling b to a.
func meanDiff(a, b image.Image) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	var sum float64
	n := 0
	for gy := 0; gy < 40; gy++ {
		for gx := 0; gx < 60; gx++ {
			x, y := ab.Min.X+(gx*ab.Dx())/60+ab.Dx()/120, ab.Min.Y+(gy*ab.Dy())/40+ab.Dy()/80
			bx, by := bb.Min.X+(x-ab.Min.X)*bb.Dx()/ab.Dx(), bb.Min.Y+(y-ab.Min.Y)*bb.Dy()/ab.Dy()
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(bx, by).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				if d < 0 {
					d = -d
				}
				sum += float64(d)
				n++
			}
		}
	}
	return sum / float64(n)
}

// The printer's state reasons become the Evolis driver's typed errors: the
// job that met the fault is aborted with that error, and afterwards the
// queue is not ready and refuses the next card before sending it.
func TestEveFaultsAreTyped(t *testing.T) {
	for _, tc := range []struct {
		state string
		want  error
		field func(printer.Status) bool
	}{
		{"+media-empty", printer.ErrFeederEmpty, func(s printer.Status) bool { return s.FeederEmpty }},
		{"+cover-open", printer.ErrCoverOpen, func(s printer.Status) bool { return s.CoverOpen }},
		{"+marker-supply-empty", printer.ErrRibbonOut, func(s printer.Status) bool { return s.RibbonOut }},
		{"+media-jam", printer.ErrJam, func(s printer.Status) bool { return s.Card == printer.PositionUnknown }},
	} {
		t.Run(tc.state[1:], func(t *testing.T) {
			eve := ipptest.StartEve(t, ipptest.EveOptions{})
			d := open(t, eve.URI, 30*time.Second)
			ctx := ctxT(t, time.Minute)
			eve.SetState(tc.state)
			eve.Fail(true)
			job, err := d.PrintCard(ctx, ipp.Card{Title: "job F", Front: ipp.TestImage()})
			if !errors.Is(err, tc.want) {
				t.Fatalf("PrintCard error %v, want %v", err, tc.want)
			}
			// The driver returns as soon as the queue shows the fault:
			// ippeveprinter may not have aborted the job yet (seen in CI
			// under load). Never completed, though: a card that met the
			// fault is not a printed card.
			switch job.State {
			case "aborted", "processing", "pending", "processing-stopped", "pending-held":
			default:
				t.Errorf("job %+v, want aborted or still open with the fault", job)
			}
			if !strings.Contains(err.Error(), " — ") {
				t.Errorf("error %q does not say what to do", err)
			}
			st, err := d.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Ready || !tc.field(st) || len(st.Problems) == 0 {
				t.Errorf("status after %s: %+v", tc.state, st)
			}
			n := len(eve.Documents())
			if _, err := d.Submit(ctx, ipp.Card{Front: ipp.TestImage()}); !errors.Is(err, tc.want) {
				t.Errorf("Submit with the fault standing: %v, want %v", err, tc.want)
			}
			if len(eve.Documents()) != n {
				t.Errorf("a card was sent to a printer reporting %s", tc.state)
			}
		})
	}
}

// A fault reported while the card is in the printer returns at once with
// the job still alive; markers are read as reported; a job cancelled at
// the queue is ErrCancelled; a job that never ends is a timeout.
func TestEveMidJob(t *testing.T) {
	eve := ipptest.StartEve(t, ipptest.EveOptions{})
	d := open(t, eve.URI, 3*time.Second)
	ctx := ctxT(t, time.Minute)

	eve.SetAttr("ATTR: marker-names=Ribbon,Overlay marker-types=ribbon-wax,other marker-colors=#000000,none marker-levels=42,7 marker-low-levels=10,10 marker-high-levels=100,100\n")
	if _, err := d.PrintCard(ctx, ipp.Card{Title: "m", Front: ipp.TestImage()}); err != nil {
		t.Fatal(err)
	}
	q, err := d.Queue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Markers) != 2 || q.Markers[0].Name != "Ribbon" || q.Markers[0].Level != 42 || q.Markers[1].Level != 7 {
		t.Fatalf("markers %+v, want Ribbon 42 and Overlay 7", q.Markers)
	}
	if c, err := d.Counters(ctx); err != nil || c.RibbonLeft != 42 {
		t.Fatalf("counters %+v %v, want ribbon 42", c, err)
	}

	// Held in the printer, then the cover opens.
	eve.Hold()
	job, err := d.Submit(ctx, ipp.Card{Title: "c", Front: ipp.TestImage()})
	if err != nil {
		t.Fatal(err)
	}
	if err := eve.Started(ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	// Still printing, no fault: a short wait times out with the job alive.
	short := open(t, eve.URI, 300*time.Millisecond)
	if j, err := short.Wait(ctx, job); !errors.Is(err, printer.ErrTimeout) || j.Terminal() {
		t.Fatalf("Wait on a held job: %+v %v, want a timeout with the job alive", j, err)
	}

	// Cancelled outside the station.
	other := open(t, eve.URI, time.Second)
	if err := other.Cancel(ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	eve.Release()
	if j, err := d.Wait(ctx, job); !errors.Is(err, printer.ErrCancelled) || j.State != "canceled" {
		t.Fatalf("Wait on a cancelled job: %+v %v", j, err)
	}
}

// A fault that appears while a card is printing is reported before the
// job ends.
func TestEveFaultWhilePrinting(t *testing.T) {
	eve := ipptest.StartEve(t, ipptest.EveOptions{})
	d := open(t, eve.URI, 30*time.Second)
	ctx := ctxT(t, time.Minute)
	eve.Hold()
	eve.SetState("+cover-open")
	job, err := d.Submit(ctx, ipp.Card{Title: "c", Front: ipp.TestImage()})
	if err != nil {
		t.Fatal(err)
	}
	j, err := d.Wait(ctx, job)
	if !errors.Is(err, printer.ErrCoverOpen) {
		t.Fatalf("Wait: %v, want cover open", err)
	}
	if j.Terminal() {
		t.Fatalf("job %+v ended; the fault must be reported while it is alive", j)
	}
	if err := d.Cancel(ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	eve.Release()
}

func TestAddressAndRefusals(t *testing.T) {
	if _, err := printer.Open(context.Background(), "ipp", "tcp://127.0.0.1:9100", printer.Options{}); err == nil {
		t.Fatal("the ipp driver took a tcp address")
	}
	d := open(t, "ipp://127.0.0.1:1/printers/none", time.Second)
	if err := d.Feed(context.Background()); !errors.Is(err, printer.ErrRefused) || !strings.Contains(err.Error(), `encoder = "desk"`) {
		t.Fatalf("Feed: %v", err)
	}
	_, err := d.Status(ctxT(t, 10*time.Second))
	if !errors.Is(err, printer.ErrDisconnected) {
		t.Fatalf("Status of a queue nobody serves: %v, want disconnected", err)
	}
	if _, err := d.Submit(ctxT(t, 10*time.Second), ipp.Card{Front: image.NewRGBA(image.Rect(0, 0, 648, 1016))}); err == nil {
		t.Fatal("a portrait image was accepted")
	}
}
