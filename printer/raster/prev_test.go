package raster

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"
)

// convertFastPrev is convertFast as it was before the packers were
// specialised per bit count (kept for the same-run benchmark baseline).
func convertFastPrev(img *image.RGBA, black *image.Gray, opt Options, ps *Panels) {
	bits := uint(bitsFor(opt.Levels))
	max := opt.Levels - 1
	var lut [256]uint8 // pixel channel → ink level of the complementary dye
	for v := range lut {
		lut[v] = uint8(scale(0xff-uint8(v), max))
	}
	ib := img.Bounds()
	var bb image.Rectangle
	if black != nil {
		bb = black.Bounds()
	}
	color := ps.Y != nil
	// Where each line and point come from in the image: the inverse of
	// place, which maps an image column to a line and a row to a point.
	var xOf [Lines]int
	var yOf [Points]int
	for x := 0; x < Width; x++ {
		n, _ := place(x, 0, opt.Rotate180)
		xOf[n] = x
	}
	for y := 0; y < Height; y++ {
		_, pt := place(0, y, opt.Rotate180)
		yOf[pt] = y
	}
	var yl, ml, cl, kl [tile][Points]uint8 // per panel line of the tile, per point
	var bare [Height]bool                  // image rows of a column the overlay leaves bare
	lineBytes := Points * int(bits) / 8
	for n0 := 0; n0 < Lines; n0 += tile {
		for pt := 0; pt < Points; pt++ {
			yy := yOf[pt]
			row := img.Pix[img.PixOffset(ib.Min.X, ib.Min.Y+yy):]
			var krow []uint8
			if black != nil {
				krow = black.Pix[black.PixOffset(bb.Min.X, bb.Min.Y+yy):]
			}
			for j := 0; j < tile; j++ {
				x := xOf[n0+j]
				p := row[4*x : 4*x+4 : 4*x+4]
				r, g, b := p[0], p[1], p[2]
				if a := p[3]; a != 0xff { // premultiplied: composite on white
					r, g, b = r+0xff-a, g+0xff-a, b+0xff-a
				}
				var k uint8
				if krow != nil {
					if krow[x] < 128 {
						k = 1
					}
				} else if t := opt.BlackThreshold; t > 0 && r < t && g < t && b < t {
					k = 1
				}
				kl[j][pt] = k
				if k == 1 {
					yl[j][pt], ml[j][pt], cl[j][pt] = 0, 0, 0
				} else {
					yl[j][pt], ml[j][pt], cl[j][pt] = lut[b], lut[g], lut[r]
				}
			}
		}
		for j := 0; j < tile; j++ {
			n := n0 + j
			packBits(ps.K.Data[n*Points/8:(n+1)*Points/8], &kl[j])
			if color {
				pack(ps.Y.Data[n*lineBytes:(n+1)*lineBytes], bits, &yl[j])
				pack(ps.M.Data[n*lineBytes:(n+1)*lineBytes], bits, &ml[j])
				pack(ps.C.Data[n*lineBytes:(n+1)*lineBytes], bits, &cl[j])
			}
			if ps.O == nil {
				continue
			}
			out := ps.O.Data[n*Points/8 : (n+1)*Points/8]
			x := xOf[n]
			any := false
			for _, r := range opt.NoVarnish {
				if x >= r.Min.X && x < r.Max.X && r.Min.Y < Height && r.Max.Y > 0 {
					any = true
				}
			}
			if !any { // the whole line varnished
				for i := range out {
					out[i] = 0xff
				}
				continue
			}
			var o [Points]uint8
			clear(bare[:])
			for _, r := range opt.NoVarnish {
				if x >= r.Min.X && x < r.Max.X {
					for yy := max0(r.Min.Y); yy < min(r.Max.Y, Height); yy++ {
						bare[yy] = true
					}
				}
			}
			for pt := range o {
				if !bare[yOf[pt]] {
					o[pt] = 1
				}
			}
			packBits(out, &o)
		}
	}
}

// TestPackersArePack: the packers specialised per bit count write the
// bytes of the general pack for random values of their width.
func TestPackersArePack(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, bits := range []uint{1, 5, 6, 7} {
		for range 50 {
			var v [Points]uint8
			for i := range v {
				v[i] = uint8(r.IntN(1 << bits))
			}
			want := make([]byte, Points*int(bits)/8)
			got := make([]byte, len(want))
			pack(want, bits, &v)
			packerFor(bits)(got, &v)
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bits: specialised packer differs from pack", bits)
			}
		}
	}
}

// TestFastPathIsThePreviousFastPath: the current one-pass path writes the
// bytes of the one before it (convertFastPrev) for random cards, levels,
// rotations, black layer or threshold, and random bare areas — few, many
// overlapping, more than 64 (the overlay's line reuse), off the card.
func TestFastPathIsThePreviousFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	img, k := noisy(11)
	randRects := func(n int) []image.Rectangle {
		var rs []image.Rectangle
		for range n {
			x, y := r.IntN(Width+40)-20, r.IntN(Height+40)-20
			rs = append(rs, image.Rect(x, y, x+r.IntN(300), y+r.IntN(200)))
		}
		return rs
	}
	for i := range 40 {
		opt := Options{
			Levels:    []int{32, 64, 128}[r.IntN(3)],
			Ribbon:    []string{"ymcko", "ymck", "ko", "k"}[r.IntN(4)],
			Rotate180: r.IntN(2) == 0,
			NoVarnish: randRects([]int{0, 1, 3, 8, 70}[r.IntN(5)]),
		}
		if i%2 == 0 {
			opt.BlackThreshold = uint8(r.IntN(200))
		}
		var blk *image.Gray
		if i%3 != 0 {
			blk = k
		}
		var bi image.Image
		if blk != nil {
			bi = blk
		}
		got, err := Convert(img, bi, opt)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Convert(img, bi, opt) // fresh panels of the same shape
		for _, p := range want.List() {
			clear(p.Data)
		}
		o := opt
		if o.Levels == 0 {
			o.Levels = 32
		}
		convertFastPrev(img, blk, o, want)
		gl, wl := got.List(), want.List()
		for j := range gl {
			if !bytes.Equal(gl[j].Data, wl[j].Data) {
				t.Fatalf("case %d %+v: panel %c differs from the previous fast path", i, opt, gl[j].Name)
			}
		}
	}
}

// BenchmarkConvertCardPrev is BenchmarkConvertCard's same-run baseline: the
// one-pass path before the specialised packers and the overlay line reuse.
func BenchmarkConvertCardPrev(b *testing.B) {
	img, k := noisy(2)
	opt := Options{Levels: 32, Ribbon: "ymcko"}
	ps, _ := Convert(img, k, opt)
	for b.Loop() {
		for _, p := range ps.List() {
			clear(p.Data) // what Convert's fresh panels cost
		}
		convertFastPrev(img, k, opt, ps)
	}
}

// BenchmarkConvertCardNow is the current one-pass path measured the same way.
func BenchmarkConvertCardNow(b *testing.B) {
	img, k := noisy(2)
	opt := Options{Levels: 32, Ribbon: "ymcko"}
	ps, _ := Convert(img, k, opt)
	for b.Loop() {
		for _, p := range ps.List() {
			clear(p.Data)
		}
		convertFast(img, k, opt, ps)
	}
}
