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
	packC := packerFor(bits)
	thr := opt.BlackThreshold
	// The overlay line depends only on which bare areas cover its column:
	// consecutive lines covered by the same areas get the same bytes, so a
	// line is packed once per change of that set (mask of areas, the first
	// 64; with more, every line is computed).
	var oPrev []byte
	oMask, oHave := uint64(0), false
	for n0 := 0; n0 < Lines; n0 += tile {
		for pt := 0; pt < Points; pt++ {
			yy := yOf[pt]
			row := img.Pix[img.PixOffset(ib.Min.X, ib.Min.Y+yy):]
			if black != nil {
				krow := black.Pix[black.PixOffset(bb.Min.X, bb.Min.Y+yy):]
				krow = krow[:Width:Width]
				for j := 0; j < tile; j++ {
					x := xOf[n0+j]
					// No branch on the K dot (text edges make it
					// unpredictable): km is 0xff under resin, and
					// clears the colour levels there.
					k := uint8(0)
					if krow[x] < 128 {
						k = 1
					}
					km := -k
					p := row[4*x : 4*x+4 : 4*x+4]
					r, g, b := p[0], p[1], p[2]
					if a := p[3]; a != 0xff { // premultiplied: composite on white
						r, g, b = r+0xff-a, g+0xff-a, b+0xff-a
					}
					kl[j][pt], yl[j][pt], ml[j][pt], cl[j][pt] = k, lut[b]&^km, lut[g]&^km, lut[r]&^km
				}
				continue
			}
			for j := 0; j < tile; j++ {
				x := xOf[n0+j]
				p := row[4*x : 4*x+4 : 4*x+4]
				r, g, b := p[0], p[1], p[2]
				if a := p[3]; a != 0xff { // premultiplied: composite on white
					r, g, b = r+0xff-a, g+0xff-a, b+0xff-a
				}
				if thr > 0 && r < thr && g < thr && b < thr {
					kl[j][pt], yl[j][pt], ml[j][pt], cl[j][pt] = 1, 0, 0, 0
				} else {
					kl[j][pt], yl[j][pt], ml[j][pt], cl[j][pt] = 0, lut[b], lut[g], lut[r]
				}
			}
		}
		for j := 0; j < tile; j++ {
			n := n0 + j
			packBits(ps.K.Data[n*Points/8:(n+1)*Points/8], &kl[j])
			if color {
				packC(ps.Y.Data[n*lineBytes:(n+1)*lineBytes], &yl[j])
				packC(ps.M.Data[n*lineBytes:(n+1)*lineBytes], &ml[j])
				packC(ps.C.Data[n*lineBytes:(n+1)*lineBytes], &cl[j])
			}
			if ps.O == nil {
				continue
			}
			out := ps.O.Data[n*Points/8 : (n+1)*Points/8]
			x := xOf[n]
			var mask uint64
			any := false
			for i, r := range opt.NoVarnish {
				if x >= r.Min.X && x < r.Max.X && r.Min.Y < Height && r.Max.Y > 0 {
					any = true
					if i < 64 {
						mask |= 1 << uint(i)
					}
				}
			}
			if len(opt.NoVarnish) <= 64 && oHave && mask == oMask {
				copy(out, oPrev)
				continue
			}
			oPrev, oMask, oHave = out, mask, true
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

// packerFor returns pack specialised for bits (constant shifts, one
// bounds check per eight values); the same bytes as pack
// (TestPackersArePack).
func packerFor(bits uint) func(out []byte, v *[Points]uint8) {
	switch bits {
	case 5:
		return pack5
	case 6:
		return pack6
	case 7:
		return pack7
	}
	return func(out []byte, v *[Points]uint8) { pack(out, bits, v) }
}

func pack5(out []byte, v *[Points]uint8) {
	out = out[:Points*5/8]
	for i, o := 0, 0; i < Points; i, o = i+8, o+5 {
		w := v[i : i+8 : i+8]
		acc := uint64(w[0])<<35 | uint64(w[1])<<30 | uint64(w[2])<<25 | uint64(w[3])<<20 |
			uint64(w[4])<<15 | uint64(w[5])<<10 | uint64(w[6])<<5 | uint64(w[7])
		d := out[o : o+5 : o+5]
		d[0], d[1], d[2], d[3], d[4] = byte(acc>>32), byte(acc>>24), byte(acc>>16), byte(acc>>8), byte(acc)
	}
}

func pack6(out []byte, v *[Points]uint8) {
	out = out[:Points*6/8]
	for i, o := 0, 0; i < Points; i, o = i+8, o+6 {
		w := v[i : i+8 : i+8]
		acc := uint64(w[0])<<42 | uint64(w[1])<<36 | uint64(w[2])<<30 | uint64(w[3])<<24 |
			uint64(w[4])<<18 | uint64(w[5])<<12 | uint64(w[6])<<6 | uint64(w[7])
		d := out[o : o+6 : o+6]
		d[0], d[1], d[2], d[3], d[4], d[5] = byte(acc>>40), byte(acc>>32), byte(acc>>24), byte(acc>>16), byte(acc>>8), byte(acc)
	}
}

func pack7(out []byte, v *[Points]uint8) {
	out = out[:Points*7/8]
	for i, o := 0, 0; i < Points; i, o = i+8, o+7 {
		w := v[i : i+8 : i+8]
		acc := uint64(w[0])<<49 | uint64(w[1])<<42 | uint64(w[2])<<35 | uint64(w[3])<<28 |
			uint64(w[4])<<21 | uint64(w[5])<<14 | uint64(w[6])<<7 | uint64(w[7])
		d := out[o : o+7 : o+7]
		d[0], d[1], d[2], d[3], d[4], d[5], d[6] = byte(acc>>48), byte(acc>>40), byte(acc>>32), byte(acc>>24), byte(acc>>16), byte(acc>>8), byte(acc)
	}
}

func max0(v int) int {
	if v < 0 {
		return 0
	}
	return v
}
