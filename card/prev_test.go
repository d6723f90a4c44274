package card

import (
	"image"
	"testing"

	"printstation/card/sample"
	"printstation/internal/benchcpu"
)

// glyphOverGrayPrev is glyphOverGray as the third pass left it (the 16-bit
// arithmetic per pixel), kept for the same-run benchmark baseline.
func glyphOverGrayPrev(dst *image.Gray, r image.Rectangle, src *image.Uniform, mask *image.Alpha, mp image.Point) {
	orig := r.Min
	r = r.Intersect(dst.Bounds())
	r = r.Intersect(mask.Bounds().Add(orig.Sub(mp)))
	if r.Empty() {
		return
	}
	mp = mp.Add(r.Min.Sub(orig))
	const m = 1<<16 - 1
	sr, sg, sb, sa := src.C.RGBA()
	sr, sg, sb, sa = uint32(uint16(sr)), uint32(uint16(sg)), uint32(uint16(sb)), uint32(uint16(sa))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		mrow := mask.Pix[mask.PixOffset(mp.X, mp.Y+y-r.Min.Y):]
		drow := dst.Pix[dst.PixOffset(r.Min.X, y):]
		for i := range r.Dx() {
			ma := uint32(mrow[i])
			if ma == 0 {
				continue
			}
			ma |= ma << 8
			d := uint32(drow[i])
			d |= d << 8
			a := m - (sa * ma / m)
			cr := uint32(uint16((d*a + sr*ma) / m))
			cg := uint32(uint16((d*a + sg*ma) / m))
			cb := uint32(uint16((d*a + sb*ma) / m))
			drow[i] = uint8((19595*cr + 38470*cg + 7471*cb + 1<<15) >> 24)
		}
	}
}

// BenchmarkRenderPasses: the demo card from the sample job
// (card/sample: a JPEG photo, a translucent NRGBA signature, which
// x/image still scales) with this pass's
// render changes — fixed-point photo scaler, kept shape coverage, the
// ink table for K text, the base copied without zeroing — against the
// code before them, alternated call by call.
func BenchmarkRenderPasses(b *testing.B) {
	tpl, f, p, s := DemoTemplate(), sample.Fields(), sample.Photo(1), sample.Signature(1)
	render := func() {
		if _, _, err := Render(tpl, f, p, s); err != nil {
			b.Fatal(err)
		}
	}
	defer SetPrevious(false)
	benchcpu.Compare(b, []string{"before", "now"}, func() { SetPrevious(true); render(); SetPrevious(false) }, render)
}

// TestGlyphOverGrayPrev: the oracle is the code it replaced.
func TestGlyphOverGrayPrevIsDrawMask(t *testing.T) {
	defer func() { glyphOver = glyphOverGray }()
	glyphOver = glyphOverGrayPrev
	a, ak, err := Render(DemoTemplate(), sample.Fields(), sample.Photo(2), sample.Signature(2))
	if err != nil {
		t.Fatal(err)
	}
	glyphOver = glyphOverGray
	b, bk, err := Render(DemoTemplate(), sample.Fields(), sample.Photo(2), sample.Signature(2))
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Pix) != string(b.Pix) || string(ak.Pix) != string(bk.Pix) {
		t.Fatal("the card differs with the ink table")
	}
}
