// Package raster turns a card image into the panels a YMCKO ribbon printer
// prints: Y, M and C at 2–128 levels, a 1-bit black resin panel K and a
// 1-bit overlay (varnish) panel O, bit-packed as Evolis printers take them.
//
// Orientation. The card image is landscape, Width × Height = 1016 × 648 dots
// at 300 dpi, origin top left, as card.Render draws it. The printer moves
// the card along its long edge under a head that spans the short edge, so a
// panel is Lines = 1016 lines of Points = 648 points each, and each line is
// one column of the card turned 90° clockwise:
//
//	panel line n (0…1015)     = image column x = n (the card's left edge is line 0)
//	point p of a line (0…647) = image row y = 647-p (the card's BOTTOM edge is point 0)
//
// Evidence (docs/printer/evolis.md, "Orientation"): the vendor's own Windows
// driver streams in github dpavlin/Printer-EVOLIS test.windows/ (a Dualys 3
// printing test/card-text.pdf) decode to the text running down the lines with
// the card's bottom at point 0, and that project's driver builds its lines
// with "pnmflip -rotate270" (90° clockwise) of the landscape card. Putting
// the top edge at point 0 prints every card mirrored top to bottom, which no
// rotation undoes.
//
// Options.Rotate180 turns the card round for printers or card stocks fed the
// other way. Sending an image in the swapped (portrait) orientation is
// refused: on a real printer it covers the whole card and can break the
// ribbon.
//
// A point's value is the amount of ink: 0 = none, levels-1 = full. Values are
// packed most significant bit first, line after line, with no padding
// (648 points × 1, 5, 6 or 7 bits is a whole number of bytes).
package raster

import (
	"fmt"
	"image"
	"image/color"
	"strings"
)

const (
	Width  = 1016 // card image width in dots (300 dpi)
	Height = 648  // card image height in dots
	Lines  = Width
	Points = Height
)

// Panel is one ribbon panel ready to download.
type Panel struct {
	Name   byte // 'y', 'm', 'c', 'k' or 'o'
	Levels int  // 2, 32, 64 or 128
	Data   []byte
}

// Bits is the number of bits per point.
func (p *Panel) Bits() int { return bitsFor(p.Levels) }

// LineBytes is the number of bytes one line takes.
func (p *Panel) LineBytes() int { return Points * p.Bits() / 8 }

// Line returns line n's bytes.
func (p *Panel) Line(n int) []byte {
	lb := p.LineBytes()
	return p.Data[n*lb : (n+1)*lb]
}

// At returns the value of point pt on line n.
func (p *Panel) At(n, pt int) int {
	bits := p.Bits()
	off := n*Points*bits + pt*bits
	v := 0
	for i := 0; i < bits; i++ {
		bit := off + i
		v = v<<1 | int(p.Data[bit>>3]>>(7-uint(bit&7))&1)
	}
	return v
}

// Panels is what one side of a card needs. Nil panels are not printed.
type Panels struct {
	Y, M, C, K, O *Panel
}

// Ribbon names the ribbon these panels need ("ymcko", "ko", "k", …), in the
// printer's words.
func (ps *Panels) Ribbon() string {
	s := ""
	for _, p := range ps.List() {
		s += string(p.Name)
	}
	return s
}

// List returns the present panels in print order.
func (ps *Panels) List() []*Panel {
	var out []*Panel
	for _, p := range []*Panel{ps.Y, ps.M, ps.C, ps.K, ps.O} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// Options for Convert. The zero value prints YMCKO at 32 levels with the
// whole card varnished.
type Options struct {
	// Levels for Y, M and C: 2, 32, 64 or 128 (default 32).
	Levels int
	// Ribbon is the ribbon's name as the printer's Pr command takes it:
	// "ymcko" (default), "ymckok", "ymck", "ko", "k" or "kb" (RibbonPanels).
	Ribbon string
	// NoVarnish are areas, in image coordinates, the overlay leaves bare:
	// the chip's contacts, a signature panel.
	NoVarnish []image.Rectangle
	// BlackThreshold: without a black layer, colour pixels whose R, G and B
	// are all below it go to the K panel (and are left out of Y, M, C).
	// 0 leaves K empty when there is no black layer.
	BlackThreshold uint8
	// Rotate180 turns the card round (see the package comment).
	Rotate180 bool
}

// RibbonPanels returns the panels one side of a card gets from a ribbon, in
// print order, for the ribbon names of the guide's Pr command (§8, page 26)
// and the vendor driver's capture ("k"):
//
//	ymcko   5-panel colour: y m c k o
//	ymckok  6-panel colour: y m c k o on the front (the second K is the back's)
//	ymck    colour without overlay: y m c k
//	ko      black resin and overlay: k o
//	k, kb   black monochrome: k
//
// Other monochrome ribbons (kw, kr, …) and holograms are refused: nothing
// in this project prints with them and the panel they fill is not known.
func RibbonPanels(ribbon string) (string, error) {
	switch ribbon {
	case "ymcko", "ymckok":
		return "ymcko", nil
	case "ymck":
		return "ymck", nil
	case "ko":
		return "ko", nil
	case "k", "kb":
		return "k", nil
	}
	return "", fmt.Errorf("raster: ribbon %q is not one of ymcko, ymckok, ymck, ko, k, kb", ribbon)
}

func bitsFor(levels int) int {
	switch levels {
	case 2:
		return 1
	case 32:
		return 5
	case 64:
		return 6
	case 128:
		return 7
	}
	return 0
}

// NewPanel returns an empty (no ink) panel.
func NewPanel(name byte, levels int) (*Panel, error) {
	b := bitsFor(levels)
	if b == 0 {
		return nil, fmt.Errorf("panel %c: %d levels is not one of 2, 32, 64, 128", name, levels)
	}
	return &Panel{Name: name, Levels: levels, Data: make([]byte, Lines*Points*b/8)}, nil
}

// set writes v at (line n, point pt); the panel must be fresh (zero bits).
func (p *Panel) set(bits, n, pt, v int) {
	off := n*Points*bits + pt*bits
	for i := bits - 1; i >= 0; i-- {
		if v>>uint(i)&1 != 0 {
			bit := off + (bits - 1 - i)
			p.Data[bit>>3] |= 0x80 >> uint(bit&7)
		}
	}
}

// Convert makes the panels for one side. img is the colour card image;
// black, when not nil, is the text and barcode layer: its dark dots (below
// 50 % grey) print with the black resin panel, which is sharper and
// machine-readable.
func Convert(img image.Image, black image.Image, opt Options) (*Panels, error) {
	if img == nil {
		return nil, fmt.Errorf("card image: none given")
	}
	if err := checkSize("card image", img); err != nil {
		return nil, err
	}
	if black != nil {
		if err := checkSize("black layer", black); err != nil {
			return nil, err
		}
	}
	if opt.Levels == 0 {
		opt.Levels = 32
	}
	if opt.Ribbon == "" {
		opt.Ribbon = "ymcko"
	}
	if bitsFor(opt.Levels) == 0 {
		return nil, fmt.Errorf("raster: %d levels is not one of 2, 32, 64, 128", opt.Levels)
	}
	var ps Panels
	var err error
	panels, err := RibbonPanels(opt.Ribbon)
	if err != nil {
		return nil, err
	}
	color := strings.Contains(panels, "y")
	if color && opt.Levels == 2 {
		// The guide (§8 Dbc, page 15) gives 2 levels to the K and O panels
		// and 32, 64 or 128 to Y, M and C; its example (§21) uses 32.
		return nil, fmt.Errorf("raster: colour panels (ribbon %s) take 32, 64 or 128 levels, not 2", opt.Ribbon)
	}
	if color {
		if ps.Y, err = NewPanel('y', opt.Levels); err != nil {
			return nil, err
		}
		ps.M, _ = NewPanel('m', opt.Levels)
		ps.C, _ = NewPanel('c', opt.Levels)
	}
	ps.K, _ = NewPanel('k', 2)
	if strings.Contains(panels, "o") {
		ps.O, _ = NewPanel('o', 2)
	}

	// What card.Render makes takes the one-pass path (fast.go).
	if rgba, ok := img.(*image.RGBA); ok && !generalOnly {
		if g, ok := black.(*image.Gray); black == nil || ok {
			convertFast(rgba, g, opt, &ps)
			return &ps, nil
		}
	}
	ib := img.Bounds()
	var bb image.Rectangle
	if black != nil {
		bb = black.Bounds()
	}
	bits := bitsFor(opt.Levels)
	max := opt.Levels - 1
	rgba, _ := img.(*image.RGBA)
	gray, _ := black.(*image.Gray)
	for y := 0; y < Height; y++ {
		for x := 0; x < Width; x++ {
			n, pt := place(x, y, opt.Rotate180)
			var r, g, b uint8
			if rgba != nil {
				o := rgba.PixOffset(ib.Min.X+x, ib.Min.Y+y)
				r, g, b = rgba.Pix[o], rgba.Pix[o+1], rgba.Pix[o+2]
				if a := rgba.Pix[o+3]; a != 0xff { // premultiplied: composite on white
					r, g, b = r+0xff-a, g+0xff-a, b+0xff-a
				}
			} else {
				r, g, b = rgbOnWhite(img.At(ib.Min.X+x, ib.Min.Y+y))
			}
			k := false
			if black != nil {
				var l uint8
				if gray != nil {
					l = gray.Pix[gray.PixOffset(bb.Min.X+x, bb.Min.Y+y)]
				} else {
					l = grayOnWhite(black.At(bb.Min.X+x, bb.Min.Y+y))
				}
				k = l < 128
			} else if opt.BlackThreshold > 0 {
				k = r < opt.BlackThreshold && g < opt.BlackThreshold && b < opt.BlackThreshold
			}
			if k {
				ps.K.set(1, n, pt, 1)
				continue
			}
			if color {
				if v := scale(0xff-b, max); v != 0 {
					ps.Y.set(bits, n, pt, v)
				}
				if v := scale(0xff-g, max); v != 0 {
					ps.M.set(bits, n, pt, v)
				}
				if v := scale(0xff-r, max); v != 0 {
					ps.C.set(bits, n, pt, v)
				}
			}
		}
	}
	if ps.O != nil {
		for y := 0; y < Height; y++ {
			for x := 0; x < Width; x++ {
				if bare(opt.NoVarnish, x, y) {
					continue
				}
				n, pt := place(x, y, opt.Rotate180)
				ps.O.set(1, n, pt, 1)
			}
		}
	}
	return &ps, nil
}

// place maps image dot (x, y) to (line, point); see the package comment.
func place(x, y int, rotate180 bool) (n, pt int) {
	if rotate180 {
		return Lines - 1 - x, y
	}
	return x, Points - 1 - y
}

func bare(rs []image.Rectangle, x, y int) bool {
	p := image.Pt(x, y)
	for _, r := range rs {
		if p.In(r) {
			return true
		}
	}
	return false
}

// scale maps 0…255 to 0…max, rounding to nearest.
func scale(v uint8, max int) int { return (int(v)*max + 127) / 255 }

func rgbOnWhite(c color.Color) (r, g, b uint8) {
	cr, cg, cb, ca := c.RGBA()
	w := 0xffff - ca
	return uint8((cr + w) >> 8), uint8((cg + w) >> 8), uint8((cb + w) >> 8)
}

func grayOnWhite(c color.Color) uint8 {
	r, g, b := rgbOnWhite(c)
	return uint8((299*int(r) + 587*int(g) + 114*int(b)) / 1000)
}

func checkSize(what string, img image.Image) error {
	sz := img.Bounds().Size()
	if sz.X == Width && sz.Y == Height {
		return nil
	}
	if sz.X == Height && sz.Y == Width {
		return fmt.Errorf("%s is %d×%d (portrait); want the card landscape, %d×%d dots at 300 dpi — a swapped orientation would print across the whole card", what, sz.X, sz.Y, Width, Height)
	}
	return fmt.Errorf("%s is %d×%d; want %d×%d dots (a card at 300 dpi)", what, sz.X, sz.Y, Width, Height)
}

// Image composes panels back into what the card looks like (the overlay is
// invisible), in card image orientation. Simulators and calibration tools
// use it. rotate180 must match the Options the panels were made with.
func Image(ps *Panels, rotate180 bool) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	for y := 0; y < Height; y++ {
		for x := 0; x < Width; x++ {
			n, pt := place(x, y, rotate180)
			ink := func(p *Panel) uint8 {
				if p == nil {
					return 0
				}
				return uint8((p.At(n, pt)*255 + (p.Levels-1)/2) / (p.Levels - 1))
			}
			r, g, b := 0xff-ink(ps.C), 0xff-ink(ps.M), 0xff-ink(ps.Y)
			if ps.K != nil && ps.K.At(n, pt) != 0 {
				r, g, b = 0, 0, 0
			}
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = r, g, b, 0xff
		}
	}
	return img
}
