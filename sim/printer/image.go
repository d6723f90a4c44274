package simprinter

import (
	"image"

	"printstation/printer/raster"
)

// Card geometry as the printer sees it: 1016 lines of 648 points (guide §2
// page 4, Db page 14).
const (
	cardLines  = 1016
	cardPoints = 648
)

// CardImage draws what comes out of the printer: the card landscape,
// 1016 × 648, as a person holding it sees its printed face.
//
// The layout is read here independently of printer/raster (which the
// driver uses), from the vendor's own driver stream in github
// dpavlin/Printer-EVOLIS test.windows/: line n is the card's column x = n
// from its left edge, and point p of the line is row y = 647-p, point 0
// being the card's bottom edge. A host that lays its lines out any other
// way gets a mirrored or turned card here, as it would on a real printer.
func CardImage(ps *raster.Panels) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, cardLines, cardPoints))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	if ps == nil {
		return img
	}
	for n := 0; n < cardLines; n++ {
		for pt := 0; pt < cardPoints; pt++ {
			x, y := n, cardPoints-1-pt
			o := img.PixOffset(x, y)
			if ps.K != nil && point(ps.K, n, pt) != 0 {
				img.Pix[o], img.Pix[o+1], img.Pix[o+2] = 0, 0, 0
				continue
			}
			// Subtractive inks: cyan takes red, magenta green, yellow blue.
			img.Pix[o] = 0xff - ink(ps.C, n, pt)
			img.Pix[o+1] = 0xff - ink(ps.M, n, pt)
			img.Pix[o+2] = 0xff - ink(ps.Y, n, pt)
		}
	}
	return img
}

// ink is a panel's value at (n, pt) scaled to 0…255.
func ink(p *raster.Panel, n, pt int) uint8 {
	if p == nil {
		return 0
	}
	max := p.Levels - 1
	return uint8((point(p, n, pt)*255 + max/2) / max)
}

// point reads the value at (line n, point pt): values are packed most
// significant bit first, line after line, with no padding (guide page 14:
// "the data will be concatenated in a way that each bit is useful").
func point(p *raster.Panel, n, pt int) int {
	bits := p.Bits()
	off := (n*cardPoints + pt) * bits
	v := 0
	for i := 0; i < bits; i++ {
		b := off + i
		v = v<<1 | int(p.Data[b>>3]>>(7-uint(b&7))&1)
	}
	return v
}
