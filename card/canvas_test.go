package card

import (
	"bytes"
	"errors"
	"image"
	"math/rand/v2"
	"strings"
	"testing"

	"printstation/card/sample"
)

// TestCanvasIsRender: card after card on one canvas — long names after
// short ones, a field left empty after a full one, templates changing in
// between, a job that fails half drawn — each card is byte for byte the
// full render from scratch of its job alone. Without the restore of the
// varying regions a short name keeps the end of the long one before it
// (tried: the test fails). The clip changes nothing here, as it must not:
// it only keeps ink that would reach outside a footprint (none does,
// TestTextInkMargins) off the canvas, where no restore would remove it.
func TestCanvasIsRender(t *testing.T) {
	demo, overlap := DemoTemplate(), overlapTemplate(t)
	kOnly, err := Parse([]byte(`{"version": 1, "id": "k-only", "background": {"color": "#ffffff"},
	  "elements": [
	    {"type": "text", "name": "kname", "layer": "k", "x": 40, "y": 40, "w": 600, "h": 60, "text": "{nama}", "size": 40, "min_size": 12},
	    {"type": "image", "name": "kphoto", "layer": "k", "source": "photo", "x": 700, "y": 60, "w": 200, "h": 250, "stroke": "#000000", "stroke_width": 4},
	    {"type": "text", "name": "label", "x": 40, "y": 400, "w": 400, "h": 40, "text": "{nik}", "size": 30}
	  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	short := sample.Fields()
	short["nama"] = "ANI"
	long := sample.Fields()
	long["nama"] = "SITI NURHALIZA RAHMAWATI BINTI ABDULLAH SYAH"
	long["alamat"] = "JL. RAYA PAJAJARAN NO. 45 BLOK C KOMPLEKS BOGOR BARU"
	empty := sample.Fields()
	for _, f := range demo.Fields() {
		if !strings.Contains(strings.Join(demo.RequiredFields(), ","), f) {
			delete(empty, f) // every optional field left out
		}
	}
	tooLong := sample.Fields()
	tooLong["nama"] = strings.Repeat("PANJANG SEKALI ", 60)
	// Names of every character the fonts are tested for (TestTextInkMargins),
	// in random order, with the widest glyphs at either end of a line.
	r := rand.New(rand.NewPCG(18, 5))
	odd := func() map[string]string {
		f := sample.Fields()
		var b strings.Builder
		b.WriteString("WĲ")
		for range 18 {
			b.WriteRune(rune(0x21 + r.IntN(0x250-0x21)))
		}
		b.WriteString("ʬ@")
		f["nama"] = b.String()
		f["alamat"] = "ŊÅĦ ǅ " + b.String()[4:20]
		return f
	}

	jobs := []struct {
		tpl    *Template
		fields map[string]string
		seed   int
		fails  bool
	}{
		{demo, long, 1, false},
		{demo, short, 2, false},
		{demo, empty, 3, false},
		{demo, long, 4, false},
		{demo, tooLong, 5, true}, // fails after the photo is drawn
		{demo, short, 6, false},
		{overlap, long, 7, false},
		{overlap, short, 8, false},
		{demo, short, 9, false},
		{kOnly, long, 10, false},
		{kOnly, short, 11, false},
		{demo, long, 12, false},
		{demo, odd(), 13, false},
		{demo, odd(), 14, false},
		{overlap, odd(), 15, false},
		{kOnly, odd(), 16, false},
		{demo, short, 17, false},
	}
	var c Canvas
	for i, j := range jobs {
		photo, sig := sample.Photo(j.seed), sample.Signature(j.seed)
		col, blk, err := c.Render(j.tpl, j.fields, photo, sig)
		if j.fails {
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrTextTooLong) {
				t.Fatalf("card %d: want the name refused as too long, got %v", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("card %d: %v", i, err)
		}
		wantCol, wantBlk, err := render(j.tpl, j.fields, photo, sig, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(col.Pix, wantCol.Pix) {
			t.Fatalf("card %d (%s): colour layer differs from its own full render at %v", i, j.tpl.ID(), firstDiff(col.Pix, wantCol.Pix, col.Stride, 4))
		}
		if (blk == nil) != (wantBlk == nil) {
			t.Fatalf("card %d (%s): K layer %v, want %v", i, j.tpl.ID(), blk != nil, wantBlk != nil)
		}
		if blk != nil && !bytes.Equal(blk.Pix, wantBlk.Pix) {
			t.Fatalf("card %d (%s): K layer differs from its own full render at %v", i, j.tpl.ID(), firstDiff(blk.Pix, wantBlk.Pix, blk.Stride, 1))
		}
	}
}

// TestDrawnHoldsEveryDifference: outside what a canvas says it drew, its
// card is the template's static layers — what lets the raster skip
// everything else — for jobs far apart (long, short names, other photos).
func TestDrawnHoldsEveryDifference(t *testing.T) {
	for _, tpl := range []*Template{DemoTemplate(), overlapTemplate(t)} {
		base, baseK := StaticLayers(tpl)
		long := sample.Fields()
		long["nama"] = "SITI NURHALIZA RAHMAWATI BINTI ABDULLAH SYAH"
		var c Canvas
		for seed, f := range []map[string]string{sample.Fields(), long, sample.Fields()} {
			col, blk, err := c.Render(tpl, f, sample.Photo(seed), sample.Signature(seed))
			if err != nil {
				t.Fatal(err)
			}
			drawn := c.Drawn()
			in := func(x, y int) bool {
				for _, r := range drawn {
					if image.Pt(x, y).In(r) {
						return true
					}
				}
				return false
			}
			differ := 0
			for y := range Height {
				for x := range Width {
					o := col.PixOffset(x, y)
					same := bytes.Equal(col.Pix[o:o+4], base.Pix[o:o+4]) && (blk == nil || blk.Pix[blk.PixOffset(x, y)] == baseK.Pix[baseK.PixOffset(x, y)])
					if same {
						continue
					}
					differ++
					if !in(x, y) {
						t.Fatalf("%s card %d: (%d,%d) differs from the static layers outside what the canvas drew", tpl.ID(), seed, x, y)
					}
				}
			}
			if differ == 0 {
				t.Fatalf("%s card %d: the same as its static layers", tpl.ID(), seed)
			}
		}
	}
}
