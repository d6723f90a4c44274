package imgenc_test

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"testing"

	"golang.org/x/image/webp"

	"printstation/sim/central/imgenc"
)

// The encoder is lossless: x/image/webp (the station's decoder) gives back
// every pixel, alpha included, and the file is smaller than the PNG.
func TestWebPLosslessRoundTrip(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 61, 37))
	for y := range 37 {
		for x := range 61 {
			src.SetNRGBA(x, y, color.NRGBA{uint8(x * 4), uint8(y * 7), uint8(x ^ y), uint8(255 - (x*y)%256)})
		}
	}
	src.SetNRGBA(3, 3, color.NRGBA{200, 100, 50, 0}) // colour under a transparent pixel
	b, err := imgenc.Encode(src, imgenc.WebP)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("RIFF")) || string(b[8:16]) != "WEBPVP8L" && string(b[8:16]) != "WEBPVP8X" {
		t.Fatalf("not a lossless WebP: % x", b[:min(16, len(b))])
	}
	got, err := webp.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n := image.NewNRGBA(got.Bounds())
	draw.Draw(n, n.Bounds(), got, got.Bounds().Min, draw.Src)
	if !bytes.Equal(n.Pix, src.Pix) {
		t.Error("decoded pixels differ from the source")
	}
	p, err := imgenc.Encode(src, imgenc.PNG)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(p)); err != nil {
		t.Fatal(err)
	}
	if _, err := imgenc.Encode(src, "gif"); err == nil {
		t.Error("unknown format accepted")
	}
}

// UniformVP8L really is a valid image of the declared size (so the bomb in
// the station's tests would decode to that size were it not refused first).
func TestUniformVP8L(t *testing.T) {
	b, err := imgenc.UniformVP8L(17, 9)
	if err != nil {
		t.Fatal(err)
	}
	img, err := webp.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if img.Bounds() != image.Rect(0, 0, 17, 9) {
		t.Errorf("bounds %v, want 17 × 9", img.Bounds())
	}
	big, err := imgenc.UniformVP8L(16384, 16384)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := webp.DecodeConfig(bytes.NewReader(big))
	if err != nil || cfg.Width != 16384 || cfg.Height != 16384 || len(big) > 32 {
		t.Errorf("bomb: %d bytes, %+v, %v", len(big), cfg, err)
	}
	if _, err := imgenc.UniformVP8L(0, 5); err == nil {
		t.Error("0 × 5 accepted")
	}
}
