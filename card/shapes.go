package card

import (
	"image"
	"image/color"
	"image/draw"
	"sync"

	"golang.org/x/image/vector"
)

// A shape drawn on every card (the photo's frame, drawn over the photo)
// was rasterized on every card: x/image/vector accumulates the path's
// coverage over the whole box, 200 × 250 pixels for a one-pixel frame.
// The coverage depends only on the shape, so it is kept, as the list of
// the pixels it touches with their 16-bit coverage, and composited with
// the rasterizer's own arithmetic for an RGBA destination and a uniform
// colour (TestShapeCoverageIsRasterizer).

// shapeKey names a shape's path: its kind, box, corner radius and, for a
// stroke, its width (0: the fill).
type shapeKey struct {
	kind           kind
	x0, y0, x1, y1 float64
	radius, stroke float64
}

// coverage is a path's coverage over r: pixel idx[i] (row-major in r)
// covered ma[i] of 0xffff; pixels not listed are not covered at all.
type coverage struct {
	r   image.Rectangle
	idx []int32
	ma  []uint32
}

// maxShapeCoverage bounds the cache: the shapes of a few templates.
const maxShapeCoverage = 64

var shapeCache = struct {
	sync.Mutex
	m map[shapeKey]*coverage
}{m: map[shapeKey]*coverage{}}

// cacheShapes is switched off by tests and benchmarks to compare.
var cacheShapes = true

// shapeCoverage returns the coverage of the path add builds over r,
// rasterizing it the first time, or nil when r is not the one it was
// kept for.
func shapeCoverage(key shapeKey, r image.Rectangle, add func(z *vector.Rasterizer, ox, oy float64)) *coverage {
	shapeCache.Lock()
	cv, ok := shapeCache.m[key]
	shapeCache.Unlock()
	if ok {
		if cv.r != r {
			return nil
		}
		return cv
	}
	// The rasterizer's coverage: drawing opaque white with Src on an
	// Alpha16 writes ma itself (0xffff × ma / 0xffff).
	z := vector.NewRasterizer(r.Dx(), r.Dy())
	add(z, float64(r.Min.X), float64(r.Min.Y))
	a := image.NewAlpha16(image.Rect(0, 0, r.Dx(), r.Dy()))
	z.DrawOp = draw.Src
	z.Draw(a, a.Bounds(), image.Opaque, image.Point{})
	cv = &coverage{r: r}
	for i := 0; i < len(a.Pix); i += 2 {
		if m := uint32(a.Pix[i])<<8 | uint32(a.Pix[i+1]); m != 0 {
			cv.idx = append(cv.idx, int32(i/2))
			cv.ma = append(cv.ma, m)
		}
	}
	shapeCache.Lock()
	if len(shapeCache.m) >= maxShapeCoverage {
		clear(shapeCache.m)
	}
	shapeCache.m[key] = cv
	shapeCache.Unlock()
	return cv
}

// over paints c over dst where the path covers it: x/image/vector's
// rasterizeDstRGBASrcUniformOpOver, per covered pixel (an uncovered one
// is left as it is: with ma = 0 that formula gives each byte back).
func (cv *coverage) over(dst *image.RGBA, c color.NRGBA) {
	sr, sg, sb, sa := c.RGBA()
	w := cv.r.Dx()
	base := dst.PixOffset(cv.r.Min.X, cv.r.Min.Y)
	for k, p := range cv.idx {
		ma := cv.ma[k]
		a := 0xffff - (sa * ma / 0xffff)
		y, x := int(p)/w, int(p)%w
		i := base + y*dst.Stride + 4*x
		px := dst.Pix[i : i+4 : i+4]
		px[0] = uint8(((uint32(px[0])*0x101*a + sr*ma) / 0xffff) >> 8)
		px[1] = uint8(((uint32(px[1])*0x101*a + sg*ma) / 0xffff) >> 8)
		px[2] = uint8(((uint32(px[2])*0x101*a + sb*ma) / 0xffff) >> 8)
		px[3] = uint8(((uint32(px[3])*0x101*a + sa*ma) / 0xffff) >> 8)
	}
}
