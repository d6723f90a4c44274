package card

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// TestShapeCoverageIsRasterizer: rects, rounded rects and ellipses, filled
// and stroked, at fractional positions, partly off the card, in opaque and
// translucent colours, over random pixels: painted from the kept coverage
// (first call and again from the cache) they are the rasterizer's bytes.
func TestShapeCoverageIsRasterizer(t *testing.T) {
	defer func() { cacheShapes = true }()
	r := rand.New(rand.NewPCG(18, 9))
	bg := image.NewRGBA(image.Rect(0, 0, Width, Height))
	for i := range bg.Pix {
		bg.Pix[i] = uint8(r.IntN(256))
	}
	paint := func(cached bool, el *element) []byte {
		cacheShapes = cached
		dst := image.NewRGBA(bg.Rect)
		copy(dst.Pix, bg.Pix)
		paintShape(dst, el)
		return dst.Pix
	}
	for i := range 60 {
		el := &element{
			kind: []kind{kindRect, kindEllipse}[i%2],
			x:    float64(r.IntN(1100)-40) + r.Float64(), y: float64(r.IntN(700)-40) + r.Float64(),
			w: 1 + float64(r.IntN(300)) + r.Float64(), h: 1 + float64(r.IntN(300)) + r.Float64(),
			hasFill: r.IntN(3) != 0, fill: color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256))},
			hasStr: r.IntN(2) == 0, stroke: color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256))},
			strokeWidth: float64(r.IntN(8)) + r.Float64(),
		}
		if i%4 == 0 {
			el.radius = float64(r.IntN(40))
		}
		if i%7 == 0 {
			el.fill.A, el.stroke.A = 255, 255
		}
		if i >= 50 {
			// One box at whole pixels, frames of several widths: the
			// same pixel box each time, a different coverage.
			el.x, el.y, el.w, el.h, el.hasFill, el.hasStr = 100, 200, 180, 90, false, true
			el.strokeWidth = 0.5 + float64(i-50)*0.2
		}
		want := paint(false, el)
		for round := range 2 {
			if got := paint(true, el); !bytes.Equal(got, want) {
				n := 0
				for j := range got {
					if got[j] != want[j] {
						n++
					}
				}
				t.Fatalf("shape %d %s (call %d): %d bytes differ from the rasterizer's", i, fmt.Sprintf("%+v", *el), round, n)
			}
		}
	}
}
