package card

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"testing"

	"printstation/card/sample"
)

// TestGlyphOverGrayIsDrawMask: for every destination grey level and mask
// alpha, for opaque and translucent ink colours, and for masks partly off
// the destination (clipped on every side, mask point not at the origin),
// glyphOverGray leaves the very bytes draw.DrawMask leaves.
func TestGlyphOverGrayIsDrawMask(t *testing.T) {
	colors := []color.Color{
		color.NRGBA{0, 0, 0, 255}, color.NRGBA{0x1a, 0x2b, 0x3c, 255}, color.NRGBA{0xc0, 0x39, 0x2b, 0xc0},
		color.NRGBA{255, 255, 255, 255}, color.NRGBA{10, 200, 30, 1}, color.Gray{77}, color.RGBA{40, 40, 40, 128},
	}
	// Every (grey, alpha) pair: a 256 × 256 destination and mask.
	dst := image.NewGray(image.Rect(0, 0, 256, 256))
	mask := image.NewAlpha(image.Rect(0, 0, 256, 256))
	for y := range 256 {
		for x := range 256 {
			dst.Pix[dst.PixOffset(x, y)] = uint8(y)
			mask.Pix[mask.PixOffset(x, y)] = uint8(x)
		}
	}
	for ci, c := range colors {
		src := image.NewUniform(c)
		want := image.NewGray(dst.Rect)
		copy(want.Pix, dst.Pix)
		got := image.NewGray(dst.Rect)
		copy(got.Pix, dst.Pix)
		draw.DrawMask(want, want.Rect, src, image.Point{}, mask, image.Point{}, draw.Over)
		glyphOverGray(got, got.Rect, src, mask, image.Point{})
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Fatalf("colour %d: every grey × alpha differs from draw.DrawMask", ci)
		}
	}
	// Clipping: random rectangles and mask points over a destination not at
	// the origin.
	r := rand.New(rand.NewPCG(4, 2))
	for i := range 300 {
		d := image.NewGray(image.Rect(5, -3, 60, 40))
		for j := range d.Pix {
			d.Pix[j] = uint8(r.IntN(256))
		}
		m := image.NewAlpha(image.Rect(r.IntN(10)-5, r.IntN(10)-5, 20+r.IntN(20), 20+r.IntN(20)))
		for j := range m.Pix {
			m.Pix[j] = uint8(r.IntN(256))
		}
		x, y := r.IntN(90)-20, r.IntN(70)-25
		rect := image.Rect(x, y, x+r.IntN(40), y+r.IntN(40))
		mp := image.Pt(r.IntN(20)-5, r.IntN(20)-5)
		src := image.NewUniform(colors[i%len(colors)])
		want := image.NewGray(d.Rect)
		copy(want.Pix, d.Pix)
		draw.DrawMask(want, rect, src, image.Point{}, m, mp, draw.Over)
		glyphOverGray(d, rect, src, m, mp)
		if !bytes.Equal(d.Pix, want.Pix) {
			t.Fatalf("case %d (r %v, mask %v at %v): differs from draw.DrawMask", i, rect, m.Rect, mp)
		}
	}
}

// TestFastGlyphsSameCard: whole cards — the demo template with several
// sample jobs, K-layer text of every field — are byte-identical with the
// glyphs composited by glyphOverGray and by font.Drawer.DrawString.
func TestFastGlyphsSameCard(t *testing.T) {
	defer func() { fastGlyphs = true }()
	tpl := DemoTemplate()
	for seed := range 4 {
		f := sample.Fields()
		if seed > 0 {
			f["nama"] = []string{"", "ÅNGSTRÖM Ñ. O'BRIEN-ŁUKASZ", "SITI NURHALIZA BINTI TARUDIN WAN", "X"}[seed]
		}
		render := func(fast bool) ([]byte, []byte) {
			fastGlyphs = fast
			c, k, err := Render(tpl, f, sample.Photo(seed+1), sample.Signature(seed+1))
			if err != nil {
				t.Fatal(err)
			}
			return c.Pix, k.Pix
		}
		c0, k0 := render(false)
		c1, k1 := render(true)
		if !bytes.Equal(c0, c1) || !bytes.Equal(k0, k1) {
			t.Fatalf("job %d: the card differs with glyphOverGray", seed)
		}
	}
}

// BenchmarkRenderGlyphs: the demo card with glyphOverGray against
// font.Drawer.DrawString (image/draw's generic path), same run.
func BenchmarkRenderGlyphs(b *testing.B) {
	defer func() { fastGlyphs = true }()
	tpl, f, p, s := DemoTemplate(), sample.Fields(), sample.Photo(1), sample.Signature(1)
	for _, fast := range []bool{false, true} {
		name := map[bool]string{false: "drawer", true: "glyphOverGray"}[fast]
		b.Run(name, func(b *testing.B) {
			fastGlyphs = fast
			for b.Loop() {
				if _, _, err := Render(tpl, f, p, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
