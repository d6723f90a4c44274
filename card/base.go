package card

import (
	"image"
	"image/draw"
	"math"
	"sync"

	"golang.org/x/image/font"
)

// A template's static part — the background, the shapes and the text
// without fields — is the same on every card. It is drawn once per template
// hash into a base image; a render copies the base and draws only what
// varies. A static element goes into the base only when moving it before
// the varying elements that precede it cannot change a pixel: its
// footprint meets none of theirs on its layer. Every other element is drawn
// per card, in template order, so a cached render is byte-for-byte the full
// render (TestCachedRenderIsTheFullRender).

// base is a template's static layers.
type base struct {
	col   *image.RGBA
	blk   *image.Gray // nil when the template puts nothing on K
	baked []bool      // element i is already in the base
}

// maxBases bounds the cache: a station prints with one or two templates;
// each entry holds one card of pixels (≈ 3.3 MB).
const maxBases = 4

var bases = struct {
	sync.Mutex
	m     map[string]*baseEntry
	order []string // oldest first
}{m: map[string]*baseEntry{}}

type baseEntry struct {
	once sync.Once
	b    *base
}

// baseOf returns the template's static layers, drawing them the first time
// a template with this hash is rendered.
func baseOf(t *Template) *base {
	bases.Lock()
	e, ok := bases.m[t.hash]
	if !ok {
		if len(bases.order) >= maxBases {
			delete(bases.m, bases.order[0])
			bases.order = bases.order[1:]
		}
		e = &baseEntry{}
		bases.m[t.hash] = e
		bases.order = append(bases.order, t.hash)
	}
	bases.Unlock()
	e.once.Do(func() { e.b = drawBase(t) })
	return e.b
}

// isStatic: the element draws the same on every card.
func (el *element) isStatic() bool {
	switch el.kind {
	case kindRect, kindEllipse:
		return true
	case kindText:
		for _, s := range el.text {
			if s.field != "" {
				return false
			}
		}
		return true
	}
	return false // images and QR codes carry the job's data
}

// touches says which layers an element draws on: col, blk.
func (el *element) touches() (col, blk bool) {
	if el.kind == kindQR {
		return true, el.layer == LayerK // the code is knocked out of the colour layer
	}
	return el.layer != LayerK, el.layer == LayerK
}

// Text ink of the embedded fonts stays within this much of the box its
// layout fits in (checked for every glyph by TestTextInkMargins).
const (
	inkMarginX = 0.25 // × font size, beyond the left and right of the box
	inkMarginY = 0.5  // × font size, above and below the box
)

// footprint is a rectangle holding every pixel the element can change, for
// any job; for a static text, the ink of its one layout.
func (el *element) footprint() image.Rectangle {
	out := func(x0, y0, x1, y1 float64) image.Rectangle {
		return image.Rect(int(math.Floor(x0))-1, int(math.Floor(y0))-1, int(math.Ceil(x1))+1, int(math.Ceil(y1))+1)
	}
	h := 0.0
	if el.hasStr {
		h = el.strokeWidth/2 + 1
	}
	switch el.kind {
	case kindRect, kindEllipse, kindImage:
		return out(el.x-h, el.y-h, el.x+el.w+h, el.y+el.h+h)
	case kindQR:
		return out(el.x, el.y, el.x+el.w, el.y+el.h)
	case kindText:
		if el.isStatic() {
			if lay, err := layoutText(el, resolveStatic(el)); err == nil {
				return lay.ink()
			}
		}
		mx, my := el.size*inkMarginX, el.size*inkMarginY
		return out(el.x-mx, el.y-my, el.x+el.w+mx, el.y+el.h+my)
	}
	return out(el.x, el.y, el.x+el.w, el.y+el.h)
}

// ink is a rectangle holding every pixel the layout's glyphs ink: each
// line's glyph bounds, widened to whole pixels and one more on each side.
func (lay *textLayout) ink() image.Rectangle {
	var r image.Rectangle
	for _, l := range lay.lines {
		b, _ := font.BoundString(lay.face, l.s)
		x0, y0 := fix2f(l.x+b.Min.X), fix2f(l.y+b.Min.Y)
		x1, y1 := fix2f(l.x+b.Max.X), fix2f(l.y+b.Max.Y)
		r = r.Union(image.Rect(int(math.Floor(x0))-1, int(math.Floor(y0))-1, int(math.Ceil(x1))+1, int(math.Ceil(y1))+1))
	}
	return r
}

func resolveStatic(el *element) string {
	s, _ := resolveText(el, nil)
	return s
}

// drawBase draws the background and every static element that can be
// drawn ahead of the varying ones.
func drawBase(t *Template) *base {
	b := &base{col: image.NewRGBA(image.Rect(0, 0, Width, Height)), baked: make([]bool, len(t.elements))}
	paintBackground(b.col, t.bg)
	if t.usesBlack {
		b.blk = image.NewGray(image.Rect(0, 0, Width, Height))
		for i := range b.blk.Pix {
			b.blk.Pix[i] = 255
		}
	}
	// Footprints, per layer, of the elements drawn per card so far.
	var pendCol, pendBlk []image.Rectangle
	meets := func(r image.Rectangle, rs []image.Rectangle) bool {
		for _, p := range rs {
			if r.Overlaps(p) {
				return true
			}
		}
		return false
	}
	for i := range t.elements {
		el := &t.elements[i]
		fp := el.footprint()
		col, blk := el.touches()
		if el.isStatic() && !(col && meets(fp, pendCol)) && !(blk && meets(fp, pendBlk)) {
			var dst draw.Image = b.col
			if el.layer == LayerK {
				dst = b.blk
			}
			switch el.kind {
			case kindRect, kindEllipse:
				paintShape(dst, el)
				b.baked[i] = true
			case kindText:
				if s := resolveStatic(el); s == "" {
					b.baked[i] = true // nothing to draw
				} else if lay, err := layoutText(el, s); err == nil {
					drawText(dst, el, lay)
					b.baked[i] = true
				}
			}
			if b.baked[i] {
				continue
			}
		}
		if col {
			pendCol = append(pendCol, fp)
		}
		if blk {
			pendBlk = append(pendBlk, fp)
		}
	}
	return b
}

// StaticLayers returns the template's static layers — what every card of
// this template is drawn on before its varying elements (black is nil when
// the template puts nothing on K) — so that a consumer can skip what a
// card shares with them (raster.ConvertOver). The images are shared by
// every caller: never modify them.
func StaticLayers(t *Template) (color *image.RGBA, black *image.Gray) {
	b := baseOf(t)
	return b.col, b.blk
}
