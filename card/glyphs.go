package card

import (
	"image"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
)

// Rasterizing the glyphs of the field texts was most of their cost. A
// glyph's mask depends on the font, the size, the rune and where the pen
// is within its pixel (the dot's 1/64 fraction), never on the whole
// pixels: opentype.Face.Glyph floors the glyph's box at the dot and
// rasterizes with the dot's offset from it, so a glyph drawn one whole
// pixel further is the same mask one pixel further. Masks are kept per
// (font, size, rune, fraction of the dot) and moved to each dot
// (TestGlyphCacheIsFace). Field values vary, the letters they are made of
// much less: after a few cards most glyphs are found.

// glyphFace names a face as newFace makes it: an embedded font at a size.
type glyphFace struct {
	font fontID
	size float64
}

type glyphKey struct {
	face   glyphFace
	r      rune
	fx, fy int8 // the dot's position within its pixel, in 1/64
}

type glyphMask struct {
	dr      image.Rectangle // relative to the dot's whole pixel
	mask    *image.Alpha    // nil: no glyph (ok false or an empty box)
	maskp   image.Point
	advance fixed.Int26_6
	ok      bool
}

// maxGlyphBytes bounds the kept masks (they are dropped all at once when
// full): a card's texts at their sizes take well under this.
const maxGlyphBytes = 4 << 20

var glyphCache = struct {
	sync.Mutex
	m     map[glyphKey]*glyphMask
	bytes int
}{m: map[glyphKey]*glyphMask{}}

// cacheGlyphs is switched off by tests and benchmarks to compare.
var cacheGlyphs = true

// glyph is face.Glyph(dot, r) for the face gf names, from the kept masks
// when it has been drawn at this fraction of a pixel before. The mask
// returned is shared: read it, never write it.
func glyph(face font.Face, gf glyphFace, dot fixed.Point26_6, r rune) (image.Rectangle, image.Image, image.Point, fixed.Int26_6, bool) {
	if !cacheGlyphs {
		return face.Glyph(dot, r)
	}
	whole := image.Pt(int(dot.X>>6), int(dot.Y>>6))
	k := glyphKey{gf, r, int8(dot.X & 63), int8(dot.Y & 63)}
	glyphCache.Lock()
	g, ok := glyphCache.m[k]
	glyphCache.Unlock()
	if !ok {
		dr, mask, maskp, advance, gok := face.Glyph(dot, r)
		g = &glyphMask{dr: dr.Sub(whole), maskp: maskp, advance: advance, ok: gok}
		size := 64
		if a, isAlpha := mask.(*image.Alpha); isAlpha && !dr.Empty() {
			// The face reuses its mask buffer: keep a copy.
			c := &image.Alpha{Pix: append([]uint8(nil), a.Pix...), Stride: a.Stride, Rect: a.Rect}
			g.mask = c
			size += len(c.Pix)
		} else if !dr.Empty() {
			// Not the opentype face's mask: nothing to keep.
			return dr, mask, maskp, advance, gok
		}
		glyphCache.Lock()
		if glyphCache.bytes+size > maxGlyphBytes {
			clear(glyphCache.m)
			glyphCache.bytes = 0
		}
		glyphCache.m[k] = g
		glyphCache.bytes += size
		glyphCache.Unlock()
	}
	var mask image.Image
	if g.mask != nil {
		mask = g.mask
	}
	return g.dr.Add(whole), mask, g.maskp, g.advance, g.ok
}
