package card

import (
	"bytes"
	"fmt"
	"testing"

	"printstation/card/sample"
)

// TestCachedRenderIsTheFullRender: a render on the cached static layers is
// byte-for-byte the render that draws every element, for the demo card
// with short and long values, and for a template whose static elements
// overlap varying ones before and after them (which must then stay per
// card, in order).
// overlapTemplate puts static elements over, under and between varying
// ones on both layers (the order a base must keep).
func overlapTemplate(t *testing.T) *Template {
	t.Helper()
	overlap, err := Parse([]byte(`{"version": 1, "id": "overlap", "background": {"color": "#eeeeee"},
	  "elements": [
	    {"type": "rect", "name": "under", "x": 10, "y": 10, "w": 300, "h": 60, "fill": "#3366cc80"},
	    {"type": "text", "name": "name", "x": 20, "y": 20, "w": 280, "h": 40, "text": "{nama}", "size": 30, "min_size": 10},
	    {"type": "rect", "name": "veil", "x": 100, "y": 30, "w": 300, "h": 30, "fill": "#cc336680"},
	    {"type": "text", "name": "label", "x": 110, "y": 25, "w": 200, "h": 40, "text": "LABEL", "size": 30, "color": "#00ff0080"},
	    {"type": "text", "name": "kname", "layer": "k", "x": 20, "y": 100, "w": 280, "h": 40, "text": "{nama}", "size": 30, "min_size": 10},
	    {"type": "text", "name": "klabel", "layer": "k", "x": 25, "y": 105, "w": 280, "h": 40, "text": "OVER", "size": 30},
	    {"type": "text", "name": "kfar", "layer": "k", "x": 500, "y": 300, "w": 280, "h": 40, "text": "FAR", "size": 30},
	    {"type": "image", "name": "photo", "source": "photo", "x": 600, "y": 100, "w": 200, "h": 250, "stroke": "#000000", "stroke_width": 3},
	    {"type": "rect", "name": "frame", "x": 590, "y": 90, "w": 220, "h": 20, "fill": "#ff000080"},
	    {"type": "qr", "name": "qr", "layer": "k", "text": "{nik}", "x": 40, "y": 400, "w": 150, "h": 150},
	    {"type": "rect", "name": "onqr", "x": 60, "y": 420, "w": 50, "h": 50, "fill": "#00ff00"}
	  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	return overlap
}

func TestCachedRenderIsTheFullRender(t *testing.T) {
	overlap := overlapTemplate(t)
	long := sample.Fields()
	long["nama"] = "SITI NURHALIZA RAHMAWATI BINTI ABDULLAH SYAH"
	long["alamat"] = "JL. RAYA PAJAJARAN NO. 45 BLOK C KOMPLEKS BOGOR BARU"
	long["tempat_terbit"] = "KAB. KEPULAUAN SIAU TAGULANDANG BIARO"
	cases := []struct {
		name   string
		tpl    *Template
		fields map[string]string
		seed   int
	}{
		{"demo", DemoTemplate(), sample.Fields(), 1},
		{"demo-long", DemoTemplate(), long, 2},
		{"overlap", overlap, sample.Fields(), 3},
		{"overlap-long", overlap, long, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			photo, sig := sample.Photo(c.seed), sample.Signature(c.seed)
			wantCol, wantBlk, err := render(c.tpl, c.fields, photo, sig, nil)
			if err != nil {
				t.Fatal(err)
			}
			for round := range 2 { // the first draws the base, the second reuses it
				col, blk, err := Render(c.tpl, c.fields, photo, sig)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(col.Pix, wantCol.Pix) {
					t.Fatalf("round %d: colour layer differs from the full render at %v", round, firstDiff(col.Pix, wantCol.Pix, col.Stride, 4))
				}
				if (blk == nil) != (wantBlk == nil) || blk != nil && !bytes.Equal(blk.Pix, wantBlk.Pix) {
					t.Fatalf("round %d: K layer differs from the full render at %v", round, firstDiff(blk.Pix, wantBlk.Pix, blk.Stride, 1))
				}
			}
		})
	}
	// The overlapping template keeps per card exactly what must stay in
	// order: the veil over the name, the label over the veil, the K label
	// over the K name, the frame over the photo's stroke and the rect on
	// the QR's knock-out; the first rect and the far label go in the base.
	b := baseOf(overlap)
	want := map[string]bool{"under": true, "name": false, "veil": false, "label": false, "kname": false, "klabel": false,
		"kfar": true, "photo": false, "frame": false, "qr": false, "onqr": false}
	for i, el := range overlap.elements {
		if b.baked[i] != want[el.name] {
			t.Errorf("element %q: in the base %v, want %v", el.name, b.baked[i], want[el.name])
		}
	}
	// On the demo card every static element is in the base.
	d := DemoTemplate()
	db := baseOf(d)
	for i, el := range d.elements {
		if el.isStatic() && !db.baked[i] {
			t.Errorf("demo: static element %q is drawn per card", el.name)
		}
	}
}

func firstDiff(a, b []byte, stride, px int) string {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return fmt.Sprintf("(%d,%d)", (i%stride)/px, i/stride)
		}
	}
	return "end"
}

// TestTextInkMargins: no glyph of the embedded fonts inks further outside
// its layout box than the margins a varying text's footprint allows, so a
// static element beside a field is never drawn before ink that reaches it.
func TestTextInkMargins(t *testing.T) {
	for id := fontID(0); id < numFonts; id++ {
		const size = 40.0
		face, err := newFace(id, size)
		if err != nil {
			t.Fatal(err)
		}
		m := fontMetrics(id, size)
		for r := rune(0x20); r < 0x250; r++ {
			b, adv, ok := face.GlyphBounds(r)
			if !ok {
				continue
			}
			// Horizontally the layout fits the advance in the box; vertically
			// the line's ascent and descent.
			left, right := -fix2f(b.Min.X), fix2f(b.Max.X-adv)
			up, down := -fix2f(b.Min.Y)-m.ascent, fix2f(b.Max.Y)-m.descent
			if left > size*inkMarginX || right > size*inkMarginX || up > size*inkMarginY || down > size*inkMarginY {
				t.Errorf("font %d, %q: ink beyond its box by left %.1f right %.1f up %.1f down %.1f px at size %g", id, r, left, right, up, down, size)
			}
		}
	}
}

// BenchmarkRenderDemoFull is the same-run baseline of BenchmarkRenderDemo:
// every element drawn, no cached static layers.
func BenchmarkRenderDemoFull(b *testing.B) {
	tpl := DemoTemplate()
	f, p, s := sample.Fields(), sample.Photo(1), sample.Signature(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := render(tpl, f, p, s, nil); err != nil {
			b.Fatal(err)
		}
	}
}
