package card_test

import (
	"errors"
	"image"
	"testing"

	"printstation/card"
	"printstation/card/sample"
	"printstation/sim/central/imgenc"
)

// FuzzParse feeds arbitrary bytes to Parse (templates come from the central
// server). Parse must never panic; what it accepts must render without
// panicking, failing only with a *FieldError.
func FuzzParse(f *testing.F) {
	f.Add(card.DemoTemplateJSON())
	f.Add([]byte(tmpl(okText)))
	f.Add([]byte(tmpl(`{"type": "rect", "name": "r", "x": 0, "y": 0, "w": 1016, "h": 648, "fill": "#ff000080", "stroke": "#000000", "stroke_width": 50, "radius": 300}`)))
	f.Add([]byte(tmpl(`{"type": "ellipse", "name": "e", "layer": "k", "x": 1, "y": 1, "w": 1, "h": 1, "stroke": "#000000"}`)))
	f.Add([]byte(tmpl(`{"type": "qr", "name": "q", "layer": "k", "text": "x{nik}y", "ec": "H", "quiet": 1, "x": 0, "y": 0, "w": 90, "h": 90}`)))
	f.Add([]byte(tmpl(`{"type": "text", "name": "t", "x": 0, "y": 0, "w": 10, "h": 600, "text": "{a} {b}", "size": 300, "min_size": 6, "fit": "wrap"}`)))
	f.Add([]byte(tmpl(`{"type": "image", "name": "i", "layer": "k", "source": "signature", "x": 0, "y": 0, "w": 1, "h": 1, "optional": true}`)))
	fields := sample.Fields()
	photo, sig := sample.Photo(2), sample.Signature(2)
	f.Fuzz(func(t *testing.T, b []byte) {
		tpl, err := card.Parse(b)
		if err != nil {
			if !errors.Is(err, card.ErrInvalidTemplate) {
				t.Fatalf("Parse error does not wrap ErrInvalidTemplate: %v", err)
			}
			return
		}
		if tpl.Hash() != card.Hash(b) {
			t.Fatal("Hash() is not the hash of the parsed bytes")
		}
		in := map[string]string{}
		for _, k := range tpl.Fields() {
			in[k] = "X"
			if v, ok := fields[k]; ok {
				in[k] = v
			}
		}
		col, blk, err := card.Render(tpl, in, photo, sig)
		if err != nil {
			var fe *card.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Render of an accepted template failed without a FieldError: %v", err)
			}
			return
		}
		if col.Bounds().Dx() != card.Width || (blk == nil) == tpl.UsesBlack() {
			t.Fatalf("Render gave %v and black %v for UsesBlack %v", col.Bounds(), blk != nil, tpl.UsesBlack())
		}
	})
}

// FuzzRenderImages feeds arbitrary photo and signature bytes (from jobs) to
// Render: a clear *FieldError or a card, never a panic.
func FuzzRenderImages(f *testing.F) {
	f.Add(sample.Photo(1), sample.Signature(1))
	f.Add(pngOf(image.NewGray(image.Rect(0, 0, 1, 300))), []byte{})
	f.Add([]byte("\xff\xd8\xff\xe0"), []byte("\x89PNG\r\n\x1a\n"))
	// WebP: lossless (VP8L, transforms and all, from libwebp), lossy (VP8),
	// and the single-symbol form a bomb uses.
	grad := image.NewNRGBA(image.Rect(0, 0, 24, 16))
	for i := range grad.Pix {
		grad.Pix[i] = uint8(i * 7)
	}
	for _, form := range []imgenc.Format{imgenc.WebP, imgenc.WebPLossy} {
		b, err := imgenc.Encode(grad, form)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, b)
	}
	f.Add(must(imgenc.UniformVP8L(3, 5)), []byte("RIFF\x00\x00\x00\x00WEBPVP8X"))
	tpl, err := card.Parse([]byte(tmpl(
		`{"type": "image", "name": "foto", "source": "photo", "x": 700, "y": 100, "w": 200, "h": 250, "fill": "#ffffff"}`,
		`{"type": "image", "name": "ttd", "layer": "k", "source": "signature", "x": 700, "y": 400, "w": 200, "h": 100, "optional": true}`)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, photo, sig []byte) {
		col, blk, err := card.Render(tpl, nil, photo, sig)
		if err != nil {
			var fe *card.FieldError
			if !errors.As(err, &fe) || (fe.Field != "photo" && fe.Field != "signature") {
				t.Fatalf("error is not a FieldError naming the image: %v", err)
			}
			return
		}
		if col == nil || blk == nil {
			t.Fatal("Render succeeded without images")
		}
	})
}
