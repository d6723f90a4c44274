package card_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/draw"
	"image/jpeg"
	"runtime"
	"testing"

	"printstation/card"
	"printstation/card/sample"
	"printstation/sim/central/imgenc"
)

// samplePhotoRGBA is the sample photo's pixels as a centre holds them
// before encoding (the sample is a JPEG; both forms below carry exactly
// these pixels).
func samplePhotoRGBA(t *testing.T) *image.RGBA {
	t.Helper()
	src, err := jpeg.Decode(bytes.NewReader(sample.Photo(1)))
	if err != nil {
		t.Fatal(err)
	}
	m := image.NewRGBA(src.Bounds())
	draw.Draw(m, m.Bounds(), src, src.Bounds().Min, draw.Src)
	return m
}

func encode(t *testing.T, img image.Image, f imgenc.Format) []byte {
	t.Helper()
	b, err := imgenc.Encode(img, f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A photo and signature sent as WebP lossless print exactly as the same
// pixels sent as PNG: the whole card, colour and K layers, byte for byte.
func TestRenderWebPLosslessSameCardAsPNG(t *testing.T) {
	photo := samplePhotoRGBA(t)
	photoPNG, photoWebP := encode(t, photo, imgenc.PNG), encode(t, photo, imgenc.WebP)
	sigPNG := sample.Signature(1)
	sigWebP, err := imgenc.Reencode(sigPNG, imgenc.WebP)
	if err != nil {
		t.Fatal(err)
	}
	if string(photoWebP[8:16]) != "WEBPVP8L" || string(sigWebP[8:16]) != "WEBPVP8L" {
		t.Fatalf("not lossless WebP: % x / % x", photoWebP[:16], sigWebP[:16])
	}
	if len(photoWebP) >= len(photoPNG) {
		t.Logf("photo: WebP %d bytes, PNG %d", len(photoWebP), len(photoPNG))
	}
	colP, blkP, err := card.Render(card.DemoTemplate(), sample.Fields(), photoPNG, sigPNG)
	if err != nil {
		t.Fatalf("render with PNG images: %v", err)
	}
	colW, blkW, err := card.Render(card.DemoTemplate(), sample.Fields(), photoWebP, sigWebP)
	if err != nil {
		t.Fatalf("render with WebP images: %v", err)
	}
	if !bytes.Equal(colP.Pix, colW.Pix) {
		t.Error("colour layer differs between the PNG and the WebP job")
	}
	if !bytes.Equal(blkP.Pix, blkW.Pix) {
		t.Error("K layer differs between the PNG and the WebP job")
	}
	// The photo is on the card at all (a card drawn without it would be
	// equal too).
	colNo, _, err := card.Render(card.DemoTemplate(), sample.Fields(), encode(t, image.NewRGBA(photo.Bounds()), imgenc.PNG), sigPNG)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(colNo.Pix, colW.Pix) {
		t.Error("the card with a black photo equals the card with the photo")
	}
}

// A lossy WebP (VP8) is accepted as a JPEG is.
func TestRenderWebPLossy(t *testing.T) {
	b := encode(t, samplePhotoRGBA(t), imgenc.WebPLossy)
	if string(b[8:15]) != "WEBPVP8" || b[15] != ' ' {
		t.Fatalf("not a lossy WebP: % x", b[:16])
	}
	if _, _, err := card.Render(card.DemoTemplate(), sample.Fields(), b, sample.Signature(1)); err != nil {
		t.Fatalf("render with a lossy WebP photo: %v", err)
	}
}

// vp8xCanvas puts a VP8X chunk declaring a w × h canvas in front of a
// lossless WebP's VP8L chunk.
func vp8xCanvas(vp8l []byte, w, h int) []byte {
	chunk := []byte("VP8X")
	chunk = binary.LittleEndian.AppendUint32(chunk, 10)
	chunk = append(chunk, 0x10, 0, 0, 0) // alpha flag
	chunk = append(chunk, byte(w-1), byte((w-1)>>8), byte((w-1)>>16), byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	body := append([]byte("WEBP"), chunk...)
	body = append(body, vp8l[12:]...)
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	return append(out, body...)
}

// A decompression bomb — 16384 × 16384 pixels (1 GiB decoded) declared in
// 28 bytes of valid WebP — is refused from its header, before decoding:
// ErrImageTooLarge, and no gigabyte allocated. So is a VP8X canvas that is
// too large; a small canvas hiding a huge VP8L image is refused as damaged
// by the decoder before it allocates.
func TestRenderWebPBombRefusedFromHeader(t *testing.T) {
	bomb, err := imgenc.UniformVP8L(16384, 16384)
	if err != nil {
		t.Fatal(err)
	}
	small, err := imgenc.UniformVP8L(64, 64)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := card.Render(card.DemoTemplate(), sample.Fields(), small, sample.Signature(1)); err != nil {
		t.Fatalf("the same image at 64 × 64 does not render: %v", err)
	}
	cases := []struct {
		name  string
		photo []byte
		kind  error
	}{
		{"VP8L 16384 × 16384", bomb, card.ErrImageTooLarge},
		{"VP8L 2401 × 1", must(imgenc.UniformVP8L(card.MaxImageSide+1, 1)), card.ErrImageTooLarge},
		{"VP8X canvas 16000000 × 1", vp8xCanvas(small, 16_000_000, 1), card.ErrImageTooLarge},
		{"VP8X canvas 64 × 64 over a 16384 × 16384 VP8L", vp8xCanvas(bomb, 64, 64), card.ErrBadImage},
		{"truncated", small[:20], card.ErrBadImage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, _, err := card.Render(card.DemoTemplate(), sample.Fields(), c.photo, sample.Signature(1))
			runtime.ReadMemStats(&after)
			assertFieldError(t, err, "photo", c.kind)
			if c.kind == card.ErrImageTooLarge && errors.Is(err, card.ErrBadImage) {
				t.Errorf("%v: both too large and bad", err)
			}
			// A render allocates a few tens of MB; decoding the bomb
			// would take a gigabyte.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
				t.Errorf("refusing it allocated %d MB", grew>>20)
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
