package raster

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"
)

// general hides the concrete image type, so Convert takes its general path
// (image.At per pixel): the oracle for the one-pass path.
type general struct{ image.Image }

// noisy is a card-sized RGBA image inside a larger one (bounds not at the
// origin, stride wider than the card) with random pixels, some of them
// translucent (premultiplied), and a random K layer.
func noisy(seed uint64) (*image.RGBA, *image.Gray) {
	r := rand.New(rand.NewPCG(seed, 7))
	big := image.NewRGBA(image.Rect(-3, -5, Width+9, Height+2))
	for i := 0; i < len(big.Pix); i += 4 {
		a := uint8(255)
		if r.IntN(10) == 0 {
			a = uint8(r.IntN(256))
		}
		big.Pix[i], big.Pix[i+1], big.Pix[i+2], big.Pix[i+3] = uint8(r.IntN(int(a)+1)), uint8(r.IntN(int(a)+1)), uint8(r.IntN(int(a)+1)), a
	}
	img := big.SubImage(image.Rect(2, 1, 2+Width, 1+Height)).(*image.RGBA)
	k := image.NewGray(image.Rect(0, 0, Width, Height))
	for i := range k.Pix {
		k.Pix[i] = uint8(r.IntN(256))
	}
	return img, k
}

// TestFastPathIsTheGeneralPath: for every level count, ribbon, rotation,
// black layer or threshold and bare overlay areas, the one-pass path writes
// the very bytes of the general path.
func TestFastPathIsTheGeneralPath(t *testing.T) {
	img, k := noisy(1)
	bare := []image.Rectangle{image.Rect(100, 200, 300, 260), image.Rect(-10, 600, 40, 700), image.Rect(1000, -4, 1030, 3)}
	type tc struct {
		opt   Options
		black bool
	}
	var cases []tc
	for _, lv := range []int{32, 64, 128} {
		cases = append(cases, tc{Options{Levels: lv}, true})
	}
	for _, rb := range []string{"ymckok", "ymck", "ko", "k", "kb"} {
		cases = append(cases, tc{Options{Ribbon: rb, NoVarnish: bare}, true})
	}
	for _, rot := range []bool{false, true} {
		for _, blk := range []bool{false, true} {
			for _, th := range []uint8{0, 90} {
				cases = append(cases, tc{Options{Rotate180: rot, BlackThreshold: th, NoVarnish: bare, Levels: 64}, blk})
			}
		}
	}
	for _, c := range cases {
		name := fmt.Sprintf("%+v/black=%v", c.opt, c.black)
		var black, gblack image.Image
		if c.black {
			black, gblack = k, general{k}
		}
		fast, err := Convert(img, black, c.opt)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := Convert(general{img}, gblack, c.opt)
		if err != nil {
			t.Fatal(err)
		}
		fl, sl := fast.List(), slow.List()
		if len(fl) != len(sl) {
			t.Fatalf("%s: %d panels, general path %d", name, len(fl), len(sl))
		}
		for i := range fl {
			if fl[i].Name != sl[i].Name || fl[i].Levels != sl[i].Levels || !bytes.Equal(fl[i].Data, sl[i].Data) {
				t.Errorf("%s: panel %c differs from the general path", name, fl[i].Name)
			}
		}
	}
}

// BenchmarkConvertGeneral is BenchmarkConvertCard's same-run baseline: the
// general path on the same *image.RGBA and *image.Gray (pixels read from
// the slices, panels written a bit at a time).
func BenchmarkConvertGeneral(b *testing.B) {
	img, k := noisy(2)
	generalOnly = true
	defer func() { generalOnly = false }()
	for b.Loop() {
		if _, err := Convert(img, k, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConvertCard is the one-pass path on the same images.
func BenchmarkConvertCard(b *testing.B) {
	img, k := noisy(2)
	for b.Loop() {
		if _, err := Convert(img, k, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
