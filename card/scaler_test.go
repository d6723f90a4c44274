package card

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"testing"

	"printstation/card/sample"
)

// A scaler made once gives the pixels CatmullRom.Scale gives, call after
// call (its pooled buffer is reused), on the colour and the K layer, for
// photos of every kind the decoders return and boxes of several shapes.
func TestPhotoScalerIsCatmullRom(t *testing.T) {
	useFixed = false // x/image's scaler, as for the kinds fixedScaler does not read
	defer func() { cacheScalers, useFixed = true, true }()
	photos := map[string]image.Image{}
	for _, seed := range []int{1, 2} {
		img, err := decodeImage("photo", sample.Photo(seed), nil) // JPEG: YCbCr
		if err != nil {
			t.Fatal(err)
		}
		photos["jpeg"+string(rune('0'+seed))] = img
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 240, 320))
	nrgba := image.NewNRGBA(image.Rect(0, 0, 97, 61))
	gray := image.NewGray(image.Rect(0, 0, 300, 100))
	for i := range rgba.Pix {
		rgba.Pix[i] = byte(i*7 + i/960)
	}
	for i := range rgba.Pix {
		if i%4 == 3 {
			rgba.Pix[i] = 255 // opaque, as a decoded PNG photo
		}
	}
	for i := range nrgba.Pix {
		nrgba.Pix[i] = byte(i * 13)
	}
	for i := range gray.Pix {
		gray.Pix[i] = byte(i * 3)
	}
	photos["rgba"], photos["nrgba-alpha"], photos["gray"] = rgba, nrgba, gray
	boxes := []*element{
		{x: 770, y: 124, w: 200, h: 250},
		{x: 10.4, y: 20.6, w: 333, h: 111},
		{x: 0, y: 0, w: 40, h: 700},
	}
	render := func(cached bool, img image.Image, el *element, k bool) []byte {
		cacheScalers = cached
		return drawOnPlainCard(img, el, k)
	}
	for name, img := range photos {
		for bi, el := range boxes {
			for _, k := range []bool{false, true} {
				want := render(false, img, el, k)
				for round := range 3 {
					if got := render(true, img, el, k); !bytes.Equal(got, want) {
						t.Fatalf("%s in box %d (K layer %v), round %d: the cached scaler's pixels differ", name, bi, k, round)
					}
				}
			}
		}
	}
	// And a whole card.
	full := func(cached bool) ([]byte, []byte) {
		cacheScalers = cached
		c, k, err := Render(DemoTemplate(), sample.Fields(), sample.Photo(3), sample.Signature(3))
		if err != nil {
			t.Fatal(err)
		}
		return c.Pix, k.Pix
	}
	c0, k0 := full(false)
	c1, k1 := full(true)
	if !bytes.Equal(c0, c1) || !bytes.Equal(k0, k1) {
		t.Fatal("the demo card differs with the cached scaler")
	}
}

// BenchmarkRenderScaler: the demo card with the scaler made once against
// CatmullRom.Scale per card, same run.
func BenchmarkRenderScaler(b *testing.B) {
	useFixed = false
	defer func() { cacheScalers, useFixed = true, true }()
	f, p, s := sample.Fields(), sample.Photo(1), sample.Signature(1)
	for _, cached := range []bool{true, false} {
		name := "made-once"
		if !cached {
			name = "per-card"
		}
		b.Run(name, func(b *testing.B) {
			cacheScalers = cached
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Render(DemoTemplate(), f, p, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// drawOnPlainCard draws img into el's box on a card-size plain layer — the
// K layer (grey) or the colour one — and returns its pixels: the scaler
// tests compare two ways of drawing the same photo.
func drawOnPlainCard(img image.Image, el *element, k bool) []byte {
	if k {
		g := image.NewGray(image.Rect(0, 0, Width, Height))
		draw.Draw(g, g.Bounds(), image.NewUniform(color.Gray{200}), image.Point{}, draw.Src)
		drawImage(g, el, img)
		return g.Pix
	}
	c := image.NewRGBA(image.Rect(0, 0, Width, Height))
	draw.Draw(c, c.Bounds(), image.NewUniform(color.RGBA{10, 200, 30, 255}), image.Point{}, draw.Src)
	drawImage(c, el, img)
	return c.Pix
}
