package card

import (
	"bytes"
	"errors"
	"image"
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

// TestVaryingRegionsHoldEveryDifference: outside the varying regions a
// card is its template's static layers, for jobs far apart (long, short,
// empty fields, other photos) — what lets the raster skip everything else.
func TestVaryingRegionsHoldEveryDifference(t *testing.T) {
	for _, tpl := range []*Template{DemoTemplate(), overlapTemplate(t)} {
		base, baseK := StaticLayers(tpl)
		vary := VaryingRegions(tpl)
		in := func(x, y int) bool {
			for _, r := range vary {
				if image.Pt(x, y).In(r) {
					return true
				}
			}
			return false
		}
		long := sample.Fields()
		long["nama"] = "SITI NURHALIZA RAHMAWATI BINTI ABDULLAH SYAH"
		for seed, f := range []map[string]string{sample.Fields(), long} {
			col, blk, err := render(tpl, f, sample.Photo(seed), sample.Signature(seed), nil)
			if err != nil {
				t.Fatal(err)
			}
			for y := range Height {
				for x := range Width {
					if in(x, y) {
						continue
					}
					o := col.PixOffset(x, y)
					if !bytes.Equal(col.Pix[o:o+4], base.Pix[o:o+4]) || blk != nil && blk.Pix[blk.PixOffset(x, y)] != baseK.Pix[baseK.PixOffset(x, y)] {
						t.Fatalf("%s: (%d,%d) outside the varying regions differs from the static layers", tpl.ID(), x, y)
					}
				}
			}
		}
	}
}
