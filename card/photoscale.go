package card

import (
	"image"
	"math"
	"sync"
)

// The photo's Catmull-Rom scaling was the largest part of a card's render
// (≈ 17 % of the daemon's CPU a card, the PNG decode 4 %): x/image/draw's
// kernel scaler computes every tap of every channel in float64, through
// a [][4]float64 buffer of 32 bytes a pixel, and reads the buffer column by
// column in its second pass. fixedScaler is the same filter — the same
// kernel, the same taps, the same normalisation and the same rounding of
// the result — in integer arithmetic (weights in units of 2⁻²⁴, values in
// 16-bit units with 8 more fraction bits between the passes), for the
// opaque sources job photos come as: *image.RGBA and *image.NRGBA (PNG),
// *image.YCbCr (JPEG), *image.Gray (PNG, JPEG). Anything else (a
// translucent or paletted image, a box outside the card) takes x/image's
// scaler as before.
//
// It is not bit-identical to x/image's float arithmetic: the two results
// differ where the exact filtered value lies within ≈ 0.03 of a 16-bit unit
// of a rounding boundary, by one 8-bit level; TestFixedScalerIsCatmullRom
// bounds that (at most 1 of 255 on any channel, and on how many channels)
// over random photos of every kind, and docs/bench/station.md counts the
// printed dots it changes. The library is used for every other image; the
// measured reason for this one is in docs/bench/station.md ("Fourth pass").

// fixW is the weights' fraction bits; fixT the extra fraction bits of the
// values between the passes.
const (
	fixW = 24
	fixT = 8
)

// taps is one direction of the filter: for output i, source indices
// coord[at[i]:at[i+1]] with weights w[…], which sum to exactly 1<<fixW.
type taps struct {
	at    []int32
	coord []int32
	w     []int64
}

// catmullRom is the kernel (B = 0, C = ½; Mitchell and Netravali), support 2.
func catmullRom(t float64) float64 {
	if t < 1 {
		return (1.5*t-2.5)*t*t + 1
	}
	return ((-0.5*t+2.5)*t-4)*t + 2
}

// newTaps distributes sw source samples over dw outputs as x/image/draw's
// Kernel does: output i is centred at source coordinate (i+½)·sw/dw − ½;
// when shrinking, the kernel is stretched by sw/dw so every source sample
// contributes; taps of zero weight are left out; the weights are
// normalised to sum 1. Rounding to fixed point, the rounding error is put
// on the largest weight so the sum stays exactly 1 (a flat area stays
// exactly flat).
func newTaps(dw, sw int) taps {
	scale := float64(sw) / float64(dw)
	half, argScale := 2.0, 1.0
	if scale > 1 {
		half *= scale
		argScale = 1 / scale
	}
	t := taps{at: make([]int32, dw+1)}
	for i := range dw {
		c := (float64(i)+0.5)*scale - 0.5
		lo := max(0, int(math.Floor(c-half)))
		hi := min(sw, int(math.Ceil(c+half)))
		start := len(t.w)
		var ws []float64
		total := 0.0
		for s := lo; s < hi; s++ {
			d := math.Abs((c - float64(s)) * argScale)
			if d >= 2 {
				continue
			}
			w := catmullRom(d)
			if w == 0 {
				continue
			}
			total += w
			ws = append(ws, w)
			t.coord = append(t.coord, int32(s))
		}
		var sum int64
		big := start
		for k, w := range ws {
			q := int64(math.Round(w / total * (1 << fixW)))
			t.w = append(t.w, q)
			sum += q
			if q > t.w[big] {
				big = start + k
			}
		}
		if len(ws) > 0 {
			t.w[big] += 1<<fixW - sum
		}
		t.at[i+1] = int32(len(t.w))
	}
	return t
}

// fixedScaler scales opaque sw × sh images to dw × dh; made once per
// sizes (photoScaler), used by any number of renders at once.
type fixedScaler struct {
	dw, dh, sw, sh int
	h, v           taps
	pool           sync.Pool // *scaleBuf
}

type scaleBuf struct {
	row []int32 // one source row, 16-bit units, channels interleaved
	tmp []int32 // horizontal pass: sh rows × dw × channels, 16-bit units << fixT
	acc []int64 // vertical pass: one output row
	out []uint8 // one output row, 8-bit, channels interleaved
}

func newFixedScaler(dw, dh, sw, sh int) *fixedScaler {
	z := &fixedScaler{dw: dw, dh: dh, sw: sw, sh: sh, h: newTaps(dw, sw), v: newTaps(dh, sh)}
	z.pool.New = func() any {
		return &scaleBuf{row: make([]int32, 3*sw), tmp: make([]int32, 3*sh*dw), acc: make([]int64, 3*dw), out: make([]uint8, 3*dw)}
	}
	return z
}

// fixedSource says whether src is one of the kinds fixedScaler reads, and
// how many channels it has (1: grey, 3: colour).
func fixedSource(src image.Image) (channels int, ok bool) {
	switch s := src.(type) {
	case *image.Gray:
		return 1, true
	case *image.YCbCr:
		return 3, true
	case *image.RGBA:
		return 3, s.Opaque()
	case *image.NRGBA:
		return 3, s.Opaque()
	}
	return 0, false
}

// loadRow puts source row y (relative to its bounds) into b.row, in 16-bit
// units as x/image/draw reads each kind (YCbCr converted as image/color
// does, at 16 bits).
func (z *fixedScaler) loadRow(b *scaleBuf, src image.Image, y int) {
	switch s := src.(type) {
	case *image.Gray:
		o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
		row := b.row[:z.sw]
		for x, p := range s.Pix[o : o+z.sw] {
			row[x] = int32(p) * 0x101
		}
	case *image.RGBA:
		o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
		rgbRow(b.row[:3*z.sw], s.Pix[o:o+4*z.sw])
	case *image.NRGBA: // opaque: the same values as RGBA
		o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
		rgbRow(b.row[:3*z.sw], s.Pix[o:o+4*z.sw])
	case *image.YCbCr:
		sy := s.Rect.Min.Y + y
		for x := range z.sw {
			sx := s.Rect.Min.X + x
			yy := int32(s.Y[s.YOffset(sx, sy)]) * 0x10101
			ci := s.COffset(sx, sy)
			cb, cr := int32(s.Cb[ci])-128, int32(s.Cr[ci])-128
			d := b.row[3*x : 3*x+3 : 3*x+3]
			d[0] = clamp16((yy + 91881*cr) >> 8)
			d[1] = clamp16((yy - 22554*cb - 46802*cr) >> 8)
			d[2] = clamp16((yy + 116130*cb) >> 8)
		}
	}
}

func rgbRow(row []int32, pix []uint8) {
	for x := range len(row) / 3 {
		p := pix[4*x : 4*x+3 : 4*x+3]
		d := row[3*x : 3*x+3 : 3*x+3]
		d[0], d[1], d[2] = int32(p[0])*0x101, int32(p[1])*0x101, int32(p[2])*0x101
	}
}

func clamp16(v int32) int32 {
	return min(max(v, 0), 0xffff)
}

// scale filters src (whose bounds are sw × sh) and calls put for each
// output row dy with its values, 8-bit, channels (1: grey, 3: R, G, B)
// interleaved, dw × channels long.
func (z *fixedScaler) scale(src image.Image, channels int, put func(dy int, row []uint8)) {
	b := z.pool.Get().(*scaleBuf)
	defer z.pool.Put(b)
	dw, m := z.dw, z.dw*channels
	const hs = fixW - fixT
	// Horizontal: each source row to dw values a channel, the channels
	// of a tap together.
	for y := range z.sh {
		z.loadRow(b, src, y)
		tmp := b.tmp[y*m : (y+1)*m]
		if channels == 1 {
			row := b.row[:z.sw]
			for i := range dw {
				lo, hi := z.h.at[i], z.h.at[i+1]
				ws := z.h.w[lo:hi]
				var a int64
				for k, s := range z.h.coord[lo:hi] {
					a += int64(row[s]) * ws[k]
				}
				tmp[i] = int32((a + 1<<(hs-1)) >> hs)
			}
			continue
		}
		row := b.row[:3*z.sw]
		for i := range dw {
			lo, hi := z.h.at[i], z.h.at[i+1]
			ws := z.h.w[lo:hi]
			var ar, ag, ab int64
			for k, s := range z.h.coord[lo:hi] {
				w := ws[k]
				p := row[3*s : 3*s+3 : 3*s+3]
				ar += int64(p[0]) * w
				ag += int64(p[1]) * w
				ab += int64(p[2]) * w
			}
			t := tmp[3*i : 3*i+3 : 3*i+3]
			t[0], t[1], t[2] = int32((ar+1<<(hs-1))>>hs), int32((ag+1<<(hs-1))>>hs), int32((ab+1<<(hs-1))>>hs)
		}
	}
	// Vertical: each output row from the rows of tmp it takes, two rows at
	// a time, in memory order.
	const vs = fixW + fixT
	acc, out := b.acc[:m], b.out[:m]
	for dy := range z.dh {
		lo, hi := int(z.v.at[dy]), int(z.v.at[dy+1])
		clear(acc)
		k := lo
		for ; k+1 < hi; k += 2 {
			s0, s1 := int(z.v.coord[k]), int(z.v.coord[k+1])
			w0, w1 := z.v.w[k], z.v.w[k+1]
			r0, r1 := b.tmp[s0*m:s0*m+m], b.tmp[s1*m:s1*m+m]
			r1 = r1[:len(r0)]
			acc := acc[:len(r0)]
			for j, v := range r0 {
				acc[j] += int64(v)*w0 + int64(r1[j])*w1
			}
		}
		if k < hi {
			s0, w0 := int(z.v.coord[k]), z.v.w[k]
			r0 := b.tmp[s0*m : s0*m+m]
			acc := acc[:len(r0)]
			for j, v := range r0 {
				acc[j] += int64(v) * w0
			}
		}
		for j, a := range acc {
			// The 16-bit value rounded to nearest (x/image's ftou),
			// clamped to 0…0xffff, then its high byte.
			v := (a + 1<<(vs-1)) >> vs
			out[j] = uint8(min(max(v, 0), 0xffff) >> 8)
		}
		put(dy, out)
	}
}

// useFixed is switched off by tests and benchmarks to compare.
var useFixed = true

var fixedScalers struct {
	sync.Mutex
	m map[[4]int]*fixedScaler
}

// fixedScalerFor returns the scaler for these sizes, made once: every
// photo of a template has the same size and box.
func fixedScalerFor(dw, dh, sw, sh int) *fixedScaler {
	k := [4]int{dw, dh, sw, sh}
	fixedScalers.Lock()
	defer fixedScalers.Unlock()
	if z, ok := fixedScalers.m[k]; ok {
		return z
	}
	if fixedScalers.m == nil || len(fixedScalers.m) >= 16 {
		fixedScalers.m = map[[4]int]*fixedScaler{} // sizes vary only with templates and photo sizes
	}
	z := newFixedScaler(dw, dh, sw, sh)
	fixedScalers.m[k] = z
	return z
}

// drawFixed draws img scaled to target as drawImage does — on the colour
// layer the scaled pixels (opaque), on the K layer their luminance where
// darker than the panel — with fixedScaler, and says whether it could:
// false for a source kind it does not read or a target outside the card.
func drawFixed(dst image.Image, target image.Rectangle, img image.Image) bool {
	if !useFixed {
		return false
	}
	channels, ok := fixedSource(img)
	if !ok || !target.In(dst.Bounds()) {
		return false
	}
	sb := img.Bounds()
	z := fixedScalerFor(target.Dx(), target.Dy(), sb.Dx(), sb.Dy())
	switch d := dst.(type) {
	case *image.RGBA:
		z.scale(img, channels, func(dy int, v []uint8) {
			o := d.PixOffset(target.Min.X, target.Min.Y+dy)
			row := d.Pix[o : o+4*z.dw]
			for x := range z.dw {
				p := row[4*x : 4*x+4 : 4*x+4]
				if channels == 1 {
					p[0], p[1], p[2], p[3] = v[x], v[x], v[x], 0xff
				} else {
					c := v[3*x : 3*x+3 : 3*x+3]
					p[0], p[1], p[2], p[3] = c[0], c[1], c[2], 0xff
				}
			}
		})
		return true
	case *image.Gray:
		z.scale(img, channels, func(dy int, v []uint8) {
			o := d.PixOffset(target.Min.X, target.Min.Y+dy)
			row := d.Pix[o : o+z.dw]
			for x := range z.dw {
				lum := v[x] // grey: r = g = b, and the luminance is that value
				if channels == 3 {
					c := v[3*x : 3*x+3 : 3*x+3]
					lum = uint8((299*int(c[0]) + 587*int(c[1]) + 114*int(c[2]) + 500) / 1000)
				}
				row[x] = min(row[x], lum)
			}
		})
		return true
	}
	return false
}
