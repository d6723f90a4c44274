package ipp

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strconv"
)

// Page size of a card in PDF points (1/72 in): 85.60 × 53.98 mm.
const (
	cardWpt = 85.60 / 25.4 * 72
	cardHpt = 53.98 / 25.4 * 72
)

// PDF writes one page of card size per image, each image filling its page:
// the smallest PDF (1.4, PDF 32000 §7) that CUPS's filters and IPP
// Everywhere printers take. Written here because it is a page of fixed
// size with one picture; a PDF library would bring fonts and forms.
func PDF(pages []image.Image) ([]byte, error) {
	if len(pages) == 0 {
		return nil, fmt.Errorf("pdf: no pages")
	}
	var b bytes.Buffer
	var offsets []int
	obj := func(body func()) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n", len(offsets))
		body()
		b.WriteString("\nendobj\n")
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	// 1: catalog, 2: pages, then per page: page, contents, image.
	n := len(pages)
	kids := ""
	for i := 0; i < n; i++ {
		kids += strconv.Itoa(3+3*i) + " 0 R "
	}
	obj(func() { b.WriteString("<< /Type /Catalog /Pages 2 0 R >>") })
	obj(func() { fmt.Fprintf(&b, "<< /Type /Pages /Kids [ %s] /Count %d >>", kids, n) })
	w, h := strconv.FormatFloat(cardWpt, 'f', 2, 64), strconv.FormatFloat(cardHpt, 'f', 2, 64)
	for i, img := range pages {
		content, xobj := 4+3*i, 5+3*i
		obj(func() {
			fmt.Fprintf(&b, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>", w, h, xobj, content)
		})
		stream := fmt.Sprintf("q %s 0 0 %s 0 0 cm /Im0 Do Q", w, h)
		obj(func() { fmt.Fprintf(&b, "<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream) })
		rgb, bw, bh, err := rgbBytes(img)
		if err != nil {
			return nil, err
		}
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
		zw.Write(rgb)
		zw.Close()
		obj(func() {
			fmt.Fprintf(&b, "<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n", bw, bh, z.Len())
			b.Write(z.Bytes())
			b.WriteString("\nendstream")
		})
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes(), nil
}

func rgbBytes(img image.Image) ([]byte, int, int, error) {
	bnd := img.Bounds()
	w, h := bnd.Dx(), bnd.Dy()
	if w <= 0 || h <= 0 {
		return nil, 0, 0, fmt.Errorf("pdf: empty image")
	}
	rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	// Transparent parts of a face are the white card.
	draw.Draw(rgba, rgba.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(rgba, rgba.Bounds(), img, bnd.Min, draw.Over)
	out := make([]byte, 0, w*h*3)
	for i := 0; i < len(rgba.Pix); i += 4 {
		out = append(out, rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2])
	}
	return out, w, h, nil
}

// TestImage is the diagnostic card: a frame at the card's edge, colour
// bars and a grey ramp, so a technician sees at once whether the queue
// scales, shifts or mixes up colours.
func TestImage() image.Image {
	const W, H = 1016, 648
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	bars := []color.RGBA{{0, 255, 255, 255}, {255, 0, 255, 255}, {255, 255, 0, 255}, {0, 0, 0, 255}, {255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}}
	bw := (W - 80) / len(bars)
	for i, c := range bars {
		draw.Draw(img, image.Rect(40+i*bw, 60, 40+(i+1)*bw, 300), image.NewUniform(c), image.Point{}, draw.Src)
	}
	for x := 40; x < W-40; x++ {
		g := uint8(255 * (x - 40) / (W - 81))
		draw.Draw(img, image.Rect(x, 340, x+1, 560), image.NewUniform(color.Gray{Y: g}), image.Point{}, draw.Src)
	}
	black := image.NewUniform(color.Black)
	for _, r := range []image.Rectangle{{image.Pt(0, 0), image.Pt(W, 4)}, {image.Pt(0, H-4), image.Pt(W, H)}, {image.Pt(0, 0), image.Pt(4, H)}, {image.Pt(W-4, 0), image.Pt(W, H)}} {
		draw.Draw(img, r, black, image.Point{}, draw.Src)
	}
	return img
}

// TestCard prints the diagnostic card through the queue and waits for it.
func (d *Driver) TestCard(ctx context.Context) error {
	_, err := d.PrintCard(ctx, Card{Title: "printstation test card", Front: TestImage()})
	return err
}
