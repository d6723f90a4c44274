package raster

import "image"

// generalOnly makes Convert take the general path for every image: the
// benchmarks' same-run baseline.
var generalOnly = false

// convertFast is Convert for the images card.Render makes — an *image.RGBA
// card and an *image.Gray (or no) black layer — with the pixel slices read
// once, a lookup table from channel to ink level, and each panel line packed
// byte after byte: no image.At and no read-modify-write of single bits. A
// panel line is an image column, so the image is read in tiles of a few
// columns (one cache line of pixels per row) into small per-line buffers,
// which are then packed. It writes the same bytes as the general path
// (TestFastPathIsTheGeneralPath); ps holds the fresh panels Convert made.
func convertFast(img *image.RGBA, black *image.Gray, opt Options, ps *Panels) {
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

// tile is how many panel lines (image columns) are read together: 8 RGBA
// pixels are half a cache line, and the tile's buffers stay in L1.
const tile = 8

// packBits packs 0/1 values eight to a byte, most significant bit first.
func packBits(out []byte, v *[Points]uint8) {
	for i := range out {
		w := v[8*i : 8*i+8 : 8*i+8]
		out[i] = w[0]<<7 | w[1]<<6 | w[2]<<5 | w[3]<<4 | w[4]<<3 | w[5]<<2 | w[6]<<1 | w[7]
	}
}

// pack packs values of bits bits each, most significant bit first: eight
// values make bits whole bytes (Points is a multiple of 8).
func pack(out []byte, bits uint, v *[Points]uint8) {
	o := 0
	for i := 0; i < Points; i += 8 {
		w := v[i : i+8 : i+8]
		acc := uint64(w[0])<<(7*bits) | uint64(w[1])<<(6*bits) | uint64(w[2])<<(5*bits) | uint64(w[3])<<(4*bits) |
			uint64(w[4])<<(3*bits) | uint64(w[5])<<(2*bits) | uint64(w[6])<<bits | uint64(w[7])
		for k := int(bits) - 1; k >= 0; k-- {
			out[o] = byte(acc >> (8 * uint(k)))
			o++
		}
	}
}

func max0(v int) int {
	if v < 0 {
		return 0
	}
	return v
}
