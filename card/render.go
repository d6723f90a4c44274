package card

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"slices"
	"strings"
	"sync"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// Errors a render can fail with, each inside a *FieldError naming the job
// field; match with errors.Is.
var (
	ErrMissingField  = errors.New("required field is missing or empty")
	ErrTextTooLong   = errors.New("text does not fit its box even at the smallest size")
	ErrBadImage      = errors.New("image is not a readable PNG, JPEG or WebP")
	ErrImageTooLarge = errors.New("image is too large")
	ErrQRTooDense    = errors.New("QR code does not fit its box with modules of at least 3 pixels")
)

var errorNilTemplate = errors.New("card: Render called with a nil template")

// Limits on the images a job brings (a job photo is tens of kilobytes).
const (
	MaxImageBytes = 4 << 20
	MaxImageSide  = 2400 // bounds decoding memory (2400² × 8 bytes at 16-bit depth)
	// MaxFieldLength bounds one printed field's text in bytes; the job
	// queue refuses longer fields at arrival.
	MaxFieldLength = 1000
	maxFieldLength = MaxFieldLength
	minQRModulePx  = 3
)

// FieldError says which job field could not be put on the card. It never
// holds the field's value: errors are logged and values are personal data.
type FieldError struct {
	Field   string // job field name, or "photo" / "signature"
	Element string // template element name
	Err     error  // one of the Err* sentinels, possibly wrapped
}

func (e *FieldError) Error() string {
	what := map[bool]string{true: "the issuer must resend the job with it", false: "the issuer must correct the job"}[errors.Is(e.Err, ErrMissingField)]
	if errors.Is(e.Err, ErrQRTooDense) {
		what = "the template's QR box is too small for this value: fix the template"
	}
	return fmt.Sprintf("card: field %q (element %q): %v — %s", e.Field, e.Element, e.Err, what)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Render draws a job onto the card. color is the full-colour card with
// everything except the K-layer elements; black is the K panel (0 = black
// resin, 255 = none), nil when the template puts nothing on K. photo and
// signature are PNG, JPEG or WebP bytes (imageformat.go); each is needed only if the template has
// an image element for it.
//
// The template's static layers are drawn once per template hash and
// copied; only what varies from card to card is drawn (see base.go).
func Render(t *Template, fields map[string]string, photo, signature []byte) (*image.RGBA, *image.Gray, error) {
	if t == nil {
		return nil, nil, errorNilTemplate
	}
	return render(t, fields, photo, signature, baseOf(t))
}

// render draws the card on a copy of b, or from scratch when b is nil.
func render(t *Template, fields map[string]string, photo, signature []byte, b *base) (*image.RGBA, *image.Gray, error) {
	in, err := resolveInputs(t, fields, photo, signature)
	if err != nil {
		return nil, nil, err
	}
	var col *image.RGBA
	var blk *image.Gray
	if b != nil {
		// Copies of the base, allocated without being zeroed first.
		col = &image.RGBA{Pix: slices.Clone(b.col.Pix), Stride: b.col.Stride, Rect: b.col.Rect}
		if t.usesBlack {
			blk = &image.Gray{Pix: slices.Clone(b.blk.Pix), Stride: b.blk.Stride, Rect: b.blk.Rect}
		}
	} else {
		col = image.NewRGBA(image.Rect(0, 0, Width, Height))
		if t.usesBlack {
			blk = image.NewGray(image.Rect(0, 0, Width, Height))
		}
		paintBackground(col, t.bg)
		if blk != nil {
			for i := range blk.Pix {
				blk.Pix[i] = 255
			}
		}
	}
	if err := drawVarying(t, in, col, blk, b, nil); err != nil {
		return nil, nil, err
	}
	return col, blk, nil
}

// inputs are a job's values resolved for a template: the text of each
// text and QR element (by element index) and the decoded images.
type inputs struct {
	texts          []string
	photo, signImg image.Image
}

// resolveInputs resolves every input first, so a bad job fails before any
// drawing.
func resolveInputs(t *Template, fields map[string]string, photo, signature []byte) (*inputs, error) {
	in := &inputs{texts: make([]string, len(t.elements))}
	for i := range t.elements {
		el := &t.elements[i]
		if el.kind != kindText && el.kind != kindQR {
			continue
		}
		s, err := resolveText(el, fields)
		if err != nil {
			return nil, err
		}
		in.texts[i] = s
	}
	var err error
	if t.usesPhoto {
		if in.photo, err = decodeImage("photo", photo, t.elements); err != nil {
			return nil, err
		}
	}
	if t.usesSign {
		if in.signImg, err = decodeImage("signature", signature, t.elements); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// drawVarying draws, in template order, every element b has not baked
// (all of them when b is nil) onto col and blk. With cv, each element
// draws through a view of where it can ink — its footprint, or for a text
// the ink of its layout — and that rectangle is recorded in cv before the
// element is drawn: a Canvas relies on nothing being drawn outside what it
// recorded (it restores only that).
func drawVarying(t *Template, in *inputs, col *image.RGBA, blk *image.Gray, b *base, cv *Canvas) error {
	for i := range t.elements {
		if b != nil && b.baked[i] {
			continue
		}
		el := &t.elements[i]
		var lay *textLayout
		if el.kind == kindText {
			if in.texts[i] == "" {
				continue // an optional field left empty
			}
			var err error
			if lay, err = layoutText(el, in.texts[i]); err != nil {
				return &FieldError{Field: firstField(el), Element: el.name, Err: err}
			}
		}
		if el.kind == kindQR && in.texts[i] == "" {
			continue
		}
		c := col
		var dst draw.Image = col
		if el.layer == LayerK {
			dst = blk
		}
		if cv != nil {
			view := el.footprint()
			if lay != nil {
				view = view.Intersect(textInk(el, lay))
			}
			view = view.Intersect(col.Rect)
			if view.Empty() {
				continue // nothing of it can show on the card
			}
			onCol, onBlk := el.touches()
			cv.drawn(view, onCol, onBlk)
			c = col.SubImage(view).(*image.RGBA)
			if el.layer == LayerK {
				dst = blk.SubImage(view).(*image.Gray)
			} else {
				dst = c
			}
		}
		switch el.kind {
		case kindRect, kindEllipse:
			paintShape(dst, el)
		case kindText:
			drawText(dst, el, lay)
		case kindImage:
			img := in.photo
			if el.source == "signature" {
				img = in.signImg
			}
			drawImage(dst, el, img)
		case kindQR:
			if err := drawQR(c, dst, el, in.texts[i]); err != nil {
				return &FieldError{Field: firstField(el), Element: el.name, Err: err}
			}
		}
	}
	return nil
}

// resolveText fills an element's placeholders from the job's fields. An
// optional element with a missing field renders nothing.
func resolveText(el *element, fields map[string]string) (string, error) {
	var b strings.Builder
	for _, s := range el.text {
		if s.field == "" {
			b.WriteString(s.lit)
			continue
		}
		v := fields[s.field]
		if len(v) > maxFieldLength {
			return "", &FieldError{Field: s.field, Element: el.name, Err: fmt.Errorf("%w: %d bytes, at most %d", ErrTextTooLong, len(v), maxFieldLength)}
		}
		v = cleanValue(v)
		if v == "" {
			if el.optional {
				return "", nil
			}
			return "", &FieldError{Field: s.field, Element: el.name, Err: ErrMissingField}
		}
		b.WriteString(v)
	}
	return cleanValue(b.String()), nil
}

func firstField(el *element) string {
	for _, s := range el.text {
		if s.field != "" {
			return s.field
		}
	}
	return ""
}

// decodeImage checks a job image before decoding it whole: size in bytes,
// format, and pixel dimensions from the header.
func decodeImage(source string, b []byte, els []element) (image.Image, error) {
	elName, optional := "", true
	for _, el := range els {
		if el.kind == kindImage && el.source == source {
			elName = el.name
			optional = optional && el.optional
		}
	}
	fail := func(err error) error { return &FieldError{Field: source, Element: elName, Err: err} }
	if len(b) == 0 {
		if optional {
			return nil, nil
		}
		return nil, fail(ErrMissingField)
	}
	if len(b) > MaxImageBytes {
		return nil, fail(fmt.Errorf("%w: %d bytes, at most %d", ErrImageTooLarge, len(b), MaxImageBytes))
	}
	cfg, _, err := DecodeImageConfig(b)
	if err != nil {
		return nil, fail(err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fail(fmt.Errorf("%w: %d × %d pixels", ErrBadImage, cfg.Width, cfg.Height))
	}
	if cfg.Width > MaxImageSide || cfg.Height > MaxImageSide {
		return nil, fail(fmt.Errorf("%w: %d × %d pixels, at most %d a side", ErrImageTooLarge, cfg.Width, cfg.Height, MaxImageSide))
	}
	img, err := DecodeImage(b)
	if err != nil {
		return nil, fail(err)
	}
	return img, nil
}

// paintBackground fills the card with a colour or a linear gradient, in
// integer arithmetic so every machine gets the same bytes.
func paintBackground(dst *image.RGBA, bg background) {
	lerp := func(a, b uint8, num, den int) uint8 {
		return uint8((int(a)*(den-num) + int(b)*num + den/2) / den)
	}
	for y := range Height {
		row := dst.Pix[y*dst.Stride:]
		for x := range Width {
			var num, den int
			switch bg.direction {
			case "horizontal":
				num, den = x, Width-1
			case "vertical":
				num, den = y, Height-1
			case "diagonal":
				num, den = x*(Height-1)+y*(Width-1), 2*(Width-1)*(Height-1)
			default:
				num, den = 0, 1
			}
			p := row[x*4 : x*4+4 : x*4+4]
			p[0] = lerp(bg.from.R, bg.to.R, num, den)
			p[1] = lerp(bg.from.G, bg.to.G, num, den)
			p[2] = lerp(bg.from.B, bg.to.B, num, den)
			p[3] = 255
		}
	}
}

// shapePath adds a rectangle (rounded when r > 0) or an ellipse to z, in z's
// coordinates, clockwise or, with reverse, counter-clockwise (to cut a hole).
func shapePath(z *vector.Rasterizer, k kind, x0, y0, x1, y1, r float64, reverse bool) {
	if x1 <= x0 || y1 <= y0 {
		return
	}
	const kappa = 0.5522847498
	f := func(v float64) float32 { return float32(v) }
	if k == kindEllipse {
		rx, ry := (x1-x0)/2, (y1-y0)/2
		cx, cy := x0+rx, y0+ry
		// Four cubic arcs: right → bottom → left → top → right.
		type arc struct{ c1x, c1y, c2x, c2y, ex, ey float64 }
		arcs := []arc{
			{cx + rx, cy + ry*kappa, cx + rx*kappa, cy + ry, cx, cy + ry},
			{cx - rx*kappa, cy + ry, cx - rx, cy + ry*kappa, cx - rx, cy},
			{cx - rx, cy - ry*kappa, cx - rx*kappa, cy - ry, cx, cy - ry},
			{cx + rx*kappa, cy - ry, cx + rx, cy - ry*kappa, cx + rx, cy},
		}
		if reverse {
			arcs = []arc{
				{cx + rx, cy - ry*kappa, cx + rx*kappa, cy - ry, cx, cy - ry},
				{cx - rx*kappa, cy - ry, cx - rx, cy - ry*kappa, cx - rx, cy},
				{cx - rx, cy + ry*kappa, cx - rx*kappa, cy + ry, cx, cy + ry},
				{cx + rx*kappa, cy + ry, cx + rx, cy + ry*kappa, cx + rx, cy},
			}
		}
		z.MoveTo(f(cx+rx), f(cy))
		for _, a := range arcs {
			z.CubeTo(f(a.c1x), f(a.c1y), f(a.c2x), f(a.c2y), f(a.ex), f(a.ey))
		}
		z.ClosePath()
		return
	}
	r = math.Min(r, math.Min(x1-x0, y1-y0)/2)
	if r <= 0 {
		if reverse {
			z.MoveTo(f(x0), f(y0))
			z.LineTo(f(x0), f(y1))
			z.LineTo(f(x1), f(y1))
			z.LineTo(f(x1), f(y0))
		} else {
			z.MoveTo(f(x0), f(y0))
			z.LineTo(f(x1), f(y0))
			z.LineTo(f(x1), f(y1))
			z.LineTo(f(x0), f(y1))
		}
		z.ClosePath()
		return
	}
	c := r * (1 - kappa)
	if !reverse {
		z.MoveTo(f(x0+r), f(y0))
		z.LineTo(f(x1-r), f(y0))
		z.CubeTo(f(x1-c), f(y0), f(x1), f(y0+c), f(x1), f(y0+r))
		z.LineTo(f(x1), f(y1-r))
		z.CubeTo(f(x1), f(y1-c), f(x1-c), f(y1), f(x1-r), f(y1))
		z.LineTo(f(x0+r), f(y1))
		z.CubeTo(f(x0+c), f(y1), f(x0), f(y1-c), f(x0), f(y1-r))
		z.LineTo(f(x0), f(y0+r))
		z.CubeTo(f(x0), f(y0+c), f(x0+c), f(y0), f(x0+r), f(y0))
	} else {
		z.MoveTo(f(x0+r), f(y0))
		z.CubeTo(f(x0+c), f(y0), f(x0), f(y0+c), f(x0), f(y0+r))
		z.LineTo(f(x0), f(y1-r))
		z.CubeTo(f(x0), f(y1-c), f(x0+c), f(y1), f(x0+r), f(y1))
		z.LineTo(f(x1-r), f(y1))
		z.CubeTo(f(x1-c), f(y1), f(x1), f(y1-c), f(x1), f(y1-r))
		z.LineTo(f(x1), f(y0+r))
		z.CubeTo(f(x1), f(y0+c), f(x1-c), f(y0), f(x1-r), f(y0))
	}
	z.ClosePath()
}

// paintShape fills and strokes a rect or ellipse, anti-aliased. The stroke
// is centred on the box edge but kept inside the card.
func paintShape(dst draw.Image, el *element) {
	x0, y0, x1, y1 := el.x, el.y, el.x+el.w, el.y+el.h
	if el.hasFill {
		key := shapeKey{el.kind, x0, y0, x1, y1, el.radius, 0}
		fillPath(dst, el.fill, key, x0, y0, x1, y1, func(z *vector.Rasterizer, ox, oy float64) {
			shapePath(z, el.kind, x0-ox, y0-oy, x1-ox, y1-oy, el.radius, false)
		})
	}
	if el.hasStr && el.strokeWidth > 0 {
		h := el.strokeWidth / 2
		ox0, oy0 := math.Max(0, x0-h), math.Max(0, y0-h)
		ox1, oy1 := math.Min(Width, x1+h), math.Min(Height, y1+h)
		key := shapeKey{el.kind, x0, y0, x1, y1, el.radius, el.strokeWidth}
		fillPath(dst, el.stroke, key, ox0, oy0, ox1, oy1, func(z *vector.Rasterizer, ox, oy float64) {
			shapePath(z, el.kind, ox0-ox, oy0-oy, ox1-ox, oy1-oy, el.radius+h, false)
			shapePath(z, el.kind, x0+h-ox, y0+h-oy, x1-h-ox, y1-h-oy, math.Max(0, el.radius-h), true)
		})
	}
}

// fillPath rasterizes a path built by add over the pixel box around
// (x0,y0)-(x1,y1) and paints it in c. On the colour layer the path's
// coverage is kept (shapeCoverage), keyed by the shape it draws.
func fillPath(dst draw.Image, c color.NRGBA, key shapeKey, x0, y0, x1, y1 float64, add func(z *vector.Rasterizer, ox, oy float64)) {
	r := image.Rect(int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)), int(math.Ceil(y1))).Intersect(dst.Bounds())
	if r.Empty() {
		return
	}
	if rgba, ok := dst.(*image.RGBA); ok && cacheShapes {
		if cv := shapeCoverage(key, r, add); cv != nil {
			cv.over(rgba, c)
			return
		}
	}
	z := vector.NewRasterizer(r.Dx(), r.Dy())
	add(z, float64(r.Min.X), float64(r.Min.Y))
	z.Draw(dst, r, image.NewUniform(c), image.Point{})
}

func drawText(dst draw.Image, el *element, lay *textLayout) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(el.color), Face: lay.face}
	gf := glyphFace{el.font, lay.size}
	for _, l := range lay.lines {
		d.Dot.X, d.Dot.Y = l.x, l.y
		drawString(&d, gf, l.s)
	}
}

// textInk is the union of the rectangles drawText draws the layout's glyph
// masks into: the same dots, kerning and advances as drawString and
// font.Drawer.DrawString, the masks' rectangles from the glyph cache (which
// drawText then uses). Nothing of the text is drawn outside it.
func textInk(el *element, lay *textLayout) image.Rectangle {
	gf := glyphFace{el.font, lay.size}
	var ink image.Rectangle
	for _, l := range lay.lines {
		dot := fixed.Point26_6{X: l.x, Y: l.y}
		prevC := rune(-1)
		for _, c := range l.s {
			if prevC >= 0 {
				dot.X += lay.face.Kern(prevC, c)
			}
			dr, _, _, advance, _ := glyph(lay.face, gf, dot, c)
			ink = ink.Union(dr)
			dot.X += advance
			prevC = c
		}
	}
	return ink
}

// drawString is font.Drawer.DrawString (the same glyphs, kerning and
// advances), except that a glyph on the K layer (*image.Gray) is
// composited by glyphOverGray instead of draw.DrawMask: image/draw has no
// fast path for a Gray destination and goes through RGBA64At/SetRGBA64
// per pixel, which was most of a card's text cost. The bytes are the same
// (TestGlyphOverGrayIsDrawMask, TestFastGlyphsSameCard).
func drawString(d *font.Drawer, gf glyphFace, s string) {
	g, gok := d.Dst.(*image.Gray)
	u, uok := d.Src.(*image.Uniform)
	if !gok || !uok || !fastGlyphs {
		d.DrawString(s)
		return
	}
	prevC := rune(-1)
	for _, c := range s {
		if prevC >= 0 {
			d.Dot.X += d.Face.Kern(prevC, c)
		}
		dr, mask, maskp, advance, _ := glyph(d.Face, gf, d.Dot, c)
		if !dr.Empty() {
			if a, ok := mask.(*image.Alpha); ok {
				glyphOver(g, dr, u, a, maskp)
			} else {
				draw.DrawMask(d.Dst, dr, d.Src, image.Point{}, mask, maskp, draw.Over)
			}
		}
		d.Dot.X += advance
		prevC = c
	}
}

// fastGlyphs is switched off by tests and benchmarks to compare.
var fastGlyphs = true

// glyphOver is glyphOverGray; benchmarks swap in the previous code.
var glyphOver = glyphOverGray

// glyphOverGray is draw.DrawMask(dst, r, src, image.Point{}, mask, mp,
// draw.Over) for a Gray destination, a uniform source and an Alpha mask:
// the same clipping and, per pixel, the result of the same 16-bit integer
// arithmetic as image/draw's RGBA64Image path followed by Gray.SetRGBA64's
// luminance — read from a table of every (mask alpha, grey) pair made once
// per ink colour (overGrayTable).
func glyphOverGray(dst *image.Gray, r image.Rectangle, src *image.Uniform, mask *image.Alpha, mp image.Point) {
	orig := r.Min
	r = r.Intersect(dst.Bounds())
	r = r.Intersect(mask.Bounds().Add(orig.Sub(mp)))
	if r.Empty() {
		return
	}
	mp = mp.Add(r.Min.Sub(orig))
	tbl := overGrayTable(src.C)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		mrow := mask.Pix[mask.PixOffset(mp.X, mp.Y+y-r.Min.Y):]
		drow := dst.Pix[dst.PixOffset(r.Min.X, y):]
		mrow, drow = mrow[:r.Dx()], drow[:r.Dx()]
		for i, ma := range mrow {
			if ma != 0 { // Over with nothing: unchanged
				drow[i] = tbl[int(ma)<<8|int(drow[i])]
			}
		}
	}
}

// overGrayTable returns, for an ink colour, the grey that draw.Over of
// that ink with mask alpha ma leaves on grey d, at [ma<<8|d].
func overGrayTable(c color.Color) *[1 << 16]uint8 {
	sr, sg, sb, sa := c.RGBA()
	k := [4]uint32{sr, sg, sb, sa}
	overGray.Lock()
	defer overGray.Unlock()
	if t, ok := overGray.m[k]; ok {
		return t
	}
	if overGray.m == nil || len(overGray.m) >= 16 {
		overGray.m = map[[4]uint32]*[1 << 16]uint8{} // a template has a few ink colours
	}
	const m = 1<<16 - 1
	sr, sg, sb, sa = uint32(uint16(sr)), uint32(uint16(sg)), uint32(uint16(sb)), uint32(uint16(sa))
	t := new([1 << 16]uint8)
	for mi := range 256 {
		ma := uint32(mi)
		ma |= ma << 8
		a := m - (sa * ma / m)
		for di := range 256 {
			d := uint32(di)
			d |= d << 8
			cr := uint32(uint16((d*a + sr*ma) / m))
			cg := uint32(uint16((d*a + sg*ma) / m))
			cb := uint32(uint16((d*a + sb*ma) / m))
			t[mi<<8|di] = uint8((19595*cr + 38470*cg + 7471*cb + 1<<15) >> 24)
		}
	}
	overGray.m[k] = t
	return t
}

var overGray struct {
	sync.Mutex
	m map[[4]uint32]*[1 << 16]uint8
}

// photoScaler returns x/image's Catmull-Rom scaler for these sizes, made
// once: CatmullRom.Scale computes the kernel weights and allocates its
// float buffer (≈ 2 MB for a photo) on every call, a scaler from
// NewScaler keeps the weights and pools the buffer. Every photo of a
// template has the same size and box, so one scaler serves every card;
// the pixels are those of CatmullRom.Scale (the same code runs;
// TestPhotoScalerIsCatmullRom).
func photoScaler(dw, dh, sw, sh int) xdraw.Scaler {
	if !cacheScalers {
		return xdraw.CatmullRom
	}
	return scalers.get(dw, dh, sw, sh, func() xdraw.Scaler { return xdraw.CatmullRom.NewScaler(dw, dh, sw, sh) })
}

var scalers sizeCache[xdraw.Scaler]

// cacheScalers is switched off by tests and benchmarks to compare.
var cacheScalers = true

// drawImage scales img to fit the element's box, keeping its aspect ratio,
// centred. On the K panel the image's darkness becomes resin.
func drawImage(dst draw.Image, el *element, img image.Image) {
	box := image.Rect(int(math.Round(el.x)), int(math.Round(el.y)), int(math.Round(el.x+el.w)), int(math.Round(el.y+el.h)))
	if el.hasFill {
		draw.Draw(dst, box, image.NewUniform(el.fill), image.Point{}, draw.Over)
	}
	if img != nil {
		sb := img.Bounds()
		scale := math.Min(float64(box.Dx())/float64(sb.Dx()), float64(box.Dy())/float64(sb.Dy()))
		tw := max(1, int(math.Round(float64(sb.Dx())*scale)))
		th := max(1, int(math.Round(float64(sb.Dy())*scale)))
		tx := box.Min.X + (box.Dx()-tw)/2
		ty := box.Min.Y + (box.Dy()-th)/2
		target := image.Rect(tx, ty, tx+tw, ty+th)
		if drawFixed(dst, target, img) {
			// done: fixedScaler (photoscale.go)
		} else if g, ok := dst.(*image.Gray); ok {
			// Scale onto white, then darken the panel where the image is
			// dark: resin adds ink, it never removes any.
			tmp := image.NewRGBA(image.Rect(0, 0, tw, th))
			draw.Draw(tmp, tmp.Bounds(), image.White, image.Point{}, draw.Src)
			photoScaler(tw, th, sb.Dx(), sb.Dy()).Scale(tmp, tmp.Bounds(), img, sb, draw.Over, nil)
			for y := range th {
				for x := range tw {
					p := tmp.Pix[y*tmp.Stride+x*4:]
					lum := uint8((299*int(p[0]) + 587*int(p[1]) + 114*int(p[2]) + 500) / 1000)
					if !image.Pt(tx+x, ty+y).In(g.Rect) {
						continue // outside the view drawn through
					}
					i := g.PixOffset(tx+x, ty+y)
					g.Pix[i] = min(g.Pix[i], lum)
				}
			}
		} else {
			photoScaler(tw, th, sb.Dx(), sb.Dy()).Scale(dst, target, img, sb, draw.Over, nil)
		}
	}
	if el.hasStr && el.strokeWidth > 0 {
		e := *el
		e.kind, e.hasFill, e.radius = kindRect, false, 0
		paintShape(dst, &e)
	}
}

// drawQR draws the code centred in its box with whole-pixel modules. The
// code and its quiet zone are knocked out to white on the colour layer so
// that a K-panel code prints on white, as scanners need.
func drawQR(col *image.RGBA, dst draw.Image, el *element, text string) error {
	mods, err := qrModules(text, el.ec)
	if err != nil {
		return err
	}
	n := len(mods) + 2*el.quiet
	side := math.Min(el.w, el.h)
	px := int(side) / n
	if px < minQRModulePx {
		return fmt.Errorf("%w: %d modules with the quiet zone in %d pixels", ErrQRTooDense, n, int(side))
	}
	total := px * n
	ox := int(math.Round(el.x + (el.w-float64(total))/2))
	oy := int(math.Round(el.y + (el.h-float64(total))/2))
	draw.Draw(col, image.Rect(ox, oy, ox+total, oy+total), image.White, image.Point{}, draw.Src)
	ink := image.NewUniform(el.color)
	q := el.quiet * px
	for y, row := range mods {
		for x, dark := range row {
			if dark {
				r := image.Rect(ox+q+x*px, oy+q+y*px, ox+q+(x+1)*px, oy+q+(y+1)*px)
				draw.Draw(dst, r, ink, image.Point{}, draw.Over)
			}
		}
	}
	return nil
}

// Composite is what the printed card looks like: the colour panels with the
// K panel's resin on top. A nil black returns a copy of color.
func Composite(color *image.RGBA, black *image.Gray) *image.RGBA {
	out := image.NewRGBA(color.Bounds())
	copy(out.Pix, color.Pix)
	if black == nil {
		return out
	}
	b := color.Bounds().Intersect(black.Bounds())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			k := int(black.Pix[black.PixOffset(x, y)])
			if k == 255 {
				continue
			}
			i := out.PixOffset(x, y)
			for c := range 3 {
				out.Pix[i+c] = uint8((int(out.Pix[i+c])*k + 127) / 255)
			}
		}
	}
	return out
}
