package card

import "image"

// A Canvas is where a station renders card after card: its pixels are
// kept from one render to the next, and a render of the same template
// puts the static layers back only where the previous card was drawn (the
// template's varying regions) before drawing the new one. A fresh copy of
// the static layers for every card was 3.3 MB of memory written, and then
// read again by the raster's comparison against them, per card; and as
// garbage, most of the daemon's collections while printing.
//
// It is correct because every element draws within its footprint (the
// ink margins of text are tested for every glyph, TestTextInkMargins) and
// a Canvas draws each element through a view clipped to that footprint:
// nothing is ever drawn outside the varying regions, so outside them the
// canvas still holds the static layers. TestCanvasIsRender renders jobs
// of several templates in turn and compares each with a fresh render.
//
// A Canvas is not safe for concurrent use; the images a Render returns are
// the canvas's own and change with its next Render.
type Canvas struct {
	col  *image.RGBA
	blk  *image.Gray
	hash string // the template whose card the canvas holds; "" for none
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
		restore(c.col.Pix, b.col.Pix, c.col.Stride, 4, b.colVary)
		if t.usesBlack {
			restore(c.blk.Pix, b.blk.Pix, c.blk.Stride, 1, b.blkVary)
		}
	}
	c.hash = t.hash
	var blk *image.Gray
	if t.usesBlack {
		blk = c.blk
	}
	if err := drawVarying(t, in, c.col, blk, b, true); err != nil {
		return nil, nil, err // drawn only within the regions the next render restores
	}
	return c.col, blk, nil
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
