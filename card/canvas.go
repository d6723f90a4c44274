package card

import "image"

// A Canvas is where a station renders card after card: its pixels are
// kept from one render to the next. A render of the same template puts
// the static layers back only where the previous card was drawn, then
// draws the new card's varying elements, and says where it drew them
// (Drawn) — so that the raster compares only there. A fresh copy of the
// static layers for every card was 3.3 MB of memory written, then read
// again by the raster's comparison against them, per card; and, as
// garbage, most of the daemon's collections while printing.
//
// It is correct because each element is drawn through a view clipped to
// where it can ink — its footprint (the box, its stroke; the ink margins
// of text are tested for every glyph, TestTextInkMargins), for a text the
// glyph bounds of its layout — and that view is recorded before it is
// drawn: outside the recorded views the canvas holds the static layers.
// TestCanvasIsRender renders jobs of several templates in turn, with
// names of every character the fonts cover, and compares each card with a
// fresh render.
//
// A Canvas is not safe for concurrent use; the images a Render returns are
// the canvas's own and change with its next Render.
type Canvas struct {
	col  *image.RGBA
	blk  *image.Gray
	hash string // the template whose card the canvas holds; "" for none
	// Where the last render drew, per layer: outside, the static layers.
	colDrawn, blkDrawn []image.Rectangle
	both               []image.Rectangle
}

// Render is the package's Render onto the canvas.
func (c *Canvas) Render(t *Template, fields map[string]string, photo, signature []byte) (*image.RGBA, *image.Gray, error) {
	if t == nil {
		return nil, nil, errorNilTemplate
	}
	in, err := resolveInputs(t, fields, photo, signature)
	if err != nil {
		return nil, nil, err // the canvas untouched
	}
	b := baseOf(t)
	if c.col == nil {
		c.col = image.NewRGBA(b.col.Rect)
	}
	if t.usesBlack && c.blk == nil {
		c.blk = image.NewGray(b.blk.Rect)
	}
	if c.hash != t.hash {
		// Another template (or none) was drawn here: all of the base.
		c.hash = ""
		copy(c.col.Pix, b.col.Pix)
		if t.usesBlack {
			copy(c.blk.Pix, b.blk.Pix)
		}
	} else {
		restore(c.col.Pix, b.col.Pix, c.col.Stride, 4, c.colDrawn)
		if t.usesBlack {
			restore(c.blk.Pix, b.blk.Pix, c.blk.Stride, 1, c.blkDrawn)
		}
	}
	c.hash = t.hash
	c.colDrawn, c.blkDrawn, c.both = c.colDrawn[:0], c.blkDrawn[:0], c.both[:0]
	var blk *image.Gray
	if t.usesBlack {
		blk = c.blk
	}
	if err := drawVarying(t, in, c.col, blk, b, c); err != nil {
		return nil, nil, err // drawn only where recorded: the next render restores it
	}
	return c.col, blk, nil
}

// Drawn returns where the last successful Render drew, on either layer:
// outside these rectangles its card is the template's static layers
// (StaticLayers) pixel for pixel, so a consumer need not look there
// (raster.ConvertOverInto). It changes with the next Render.
func (c *Canvas) Drawn() []image.Rectangle { return c.both }

// drawn records a view an element is about to be drawn through.
func (c *Canvas) drawn(r image.Rectangle, col, blk bool) {
	if col {
		c.colDrawn = append(c.colDrawn, r)
	}
	if blk {
		c.blkDrawn = append(c.blkDrawn, r)
	}
	c.both = append(c.both, r)
}

// restore copies the rectangles rs (within the card, at the origin) of src
// into dst, images of bpp bytes a pixel and the same stride.
func restore(dst, src []byte, stride, bpp int, rs []image.Rectangle) {
	for _, r := range rs {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			o := y*stride + r.Min.X*bpp
			n := r.Dx() * bpp
			copy(dst[o:o+n], src[o:o+n])
		}
	}
}
