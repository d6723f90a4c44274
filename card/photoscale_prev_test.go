package card

import (
	"image/draw"
	"math/rand/v2"
	"testing"

	"image"
	"math"
	"printstation/card/sample"
	"printstation/internal/benchcpu"
	"sync"
)

// This file keeps fixedScaler as the fourth pass left it (p18render),
// renamed with a prev prefix, as the same-run baseline of the fifth pass
// (BenchmarkPhotoScaleFifth, BenchmarkPhotoScaleFifthCold,
// BenchmarkSignatureScale, BenchmarkRenderCentreJobWebP) and as what
// TestFixedScalerAgreesWithPrevious and TestScanOpaque compare the new
// code with. Not used by the daemon; drawFixedPrev switches drawFixed to
// it.

// prevFixW is the weights' fraction bits; prevFixT the extra fraction bits of the
// values between the passes.
const (
	prevFixW = 24
	prevFixT = 8
)

// prevTaps is one direction of the filter: for output i, source indices
// coord[at[i]:at[i+1]] with weights w[…], which sum to exactly 1<<prevFixW.
type prevTaps struct {
	at    []int32
	coord []int32
	w     []int64
	// The same prevTaps dense: output i takes source samples first[i] …
	// first[i]+n-1 with weights dense[i*n:(i+1)*n], zero where a sample
	// has no tap (adding nothing changes nothing).
	n     int
	first []int32
	dense []int64
}

// prevNewTaps distributes sw source samples over dw outputs as x/image/draw's
// Kernel does: output i is centred at source coordinate (i+½)·sw/dw − ½;
// when shrinking, the kernel is stretched by sw/dw so every source sample
// contributes; prevTaps of zero weight are left out; the weights are
// normalised to sum 1. Rounding to fixed point, the rounding error is put
// on the largest weight so the sum stays exactly 1 (a flat area stays
// exactly flat).
func prevNewTaps(dw, sw int) prevTaps {
	scale := float64(sw) / float64(dw)
	half, argScale := 2.0, 1.0
	if scale > 1 {
		half *= scale
		argScale = 1 / scale
	}
	t := prevTaps{at: make([]int32, dw+1)}
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
			q := int64(math.Round(w / total * (1 << prevFixW)))
			t.w = append(t.w, q)
			sum += q
			if q > t.w[big] {
				big = start + k
			}
		}
		if len(ws) > 0 {
			t.w[big] += 1<<prevFixW - sum
		}
		t.at[i+1] = int32(len(t.w))
	}
	for i := range dw {
		lo, hi := t.at[i], t.at[i+1]
		if hi > lo {
			t.n = max(t.n, int(t.coord[hi-1]-t.coord[lo])+1)
		}
	}
	t.first = make([]int32, dw)
	t.dense = make([]int64, dw*t.n)
	for i := range dw {
		lo, hi := t.at[i], t.at[i+1]
		if hi == lo {
			continue
		}
		f := min(t.coord[lo], int32(sw-t.n)) // the window stays in the source
		t.first[i] = f
		for k := lo; k < hi; k++ {
			t.dense[i*t.n+int(t.coord[k]-f)] = t.w[k]
		}
	}
	return t
}

// prevFixedScaler scales opaque sw × sh images to dw × dh; made once per
// sizes (photoScaler), used by any number of renders at once.
type prevFixedScaler struct {
	dw, dh, sw, sh int
	h, v           prevTaps
	pool           sync.Pool // *prevScaleBuf
}

type prevScaleBuf struct {
	row []int32 // one source row, 16-bit units, channels interleaved
	cx  []int32 // YCbCr: each column's chroma offset from the row's first
	tmp []int32 // horizontal pass: sh rows × dw × channels, 16-bit units << prevFixT
	acc []int64 // vertical pass: one output row
	out []uint8 // one output row, 8-bit, channels interleaved
}

func newPrevFixedScaler(dw, dh, sw, sh int) *prevFixedScaler {
	z := &prevFixedScaler{dw: dw, dh: dh, sw: sw, sh: sh, h: prevNewTaps(dw, sw), v: prevNewTaps(dh, sh)}
	z.pool.New = func() any {
		return &prevScaleBuf{row: make([]int32, 3*sw), cx: make([]int32, sw), tmp: make([]int32, 3*sh*dw), acc: make([]int64, 3*dw), out: make([]uint8, 3*dw)}
	}
	return z
}

// prevFixedSource says whether src is one of the kinds prevFixedScaler reads, and
// how many channels it has (1: grey, 3: colour). An RGBA or NRGBA image
// whose every pixel has R = G = B (a signature sent as WebP, which has no
// grey form) is read as one channel: the three would be filtered alike.
func prevFixedSource(src image.Image) (channels int, ok bool) {
	return fixedSourceBy(src, prevScanOpaque)
}

// prevScanOpaque reads four-byte pixels: ok when every alpha is 0xff, one
// channel when moreover every R = G = B.
func prevScanOpaque(pix []uint8, stride int, r image.Rectangle) (channels int, ok bool) {
	grey := true
	for y := range r.Dy() {
		row := pix[y*stride : y*stride+4*r.Dx()]
		for x := 0; x < len(row); x += 4 {
			p := row[x : x+4 : x+4]
			if p[3] != 0xff {
				return 0, false
			}
			grey = grey && p[0] == p[1] && p[1] == p[2]
		}
	}
	if grey {
		return 1, true
	}
	return 3, true
}

// loadRow puts source row y (relative to its bounds) into b.row, in 16-bit
// units as x/image/draw reads each kind (YCbCr converted as image/color
// does, at 16 bits).
func (z *prevFixedScaler) loadRow(b *prevScaleBuf, src image.Image, y int) {
	switch s := src.(type) {
	case *image.Gray:
		o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
		row := b.row[:z.sw]
		for x, p := range s.Pix[o : o+z.sw] {
			row[x] = int32(p) * 0x101
		}
	case *image.RGBA:
		o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
		prevRgbRow(b.row[:3*z.sw], s.Pix[o:o+4*z.sw])
	case *image.NRGBA: // opaque: the same values as RGBA
		o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
		prevRgbRow(b.row[:3*z.sw], s.Pix[o:o+4*z.sw])
	case *image.YCbCr:
		ycbcrRow(b.row, s, y, b.cx[:z.sw])
	}
}

func prevRgbRow(row []int32, pix []uint8) {
	for x := range len(row) / 3 {
		p := pix[4*x : 4*x+3 : 4*x+3]
		d := row[3*x : 3*x+3 : 3*x+3]
		d[0], d[1], d[2] = int32(p[0])*0x101, int32(p[1])*0x101, int32(p[2])*0x101
	}
}

// scale filters src (whose bounds are sw × sh) and calls put for each
// output row dy with its values, 8-bit, channels (1: grey, 3: R, G, B)
// interleaved, dw × channels long.
func (z *prevFixedScaler) scale(src image.Image, channels int, put func(dy int, row []uint8)) {
	b := z.pool.Get().(*prevScaleBuf)
	defer z.pool.Put(b)
	m := z.dw * channels
	if s, ok := src.(*image.YCbCr); ok {
		c0 := s.COffset(s.Rect.Min.X, s.Rect.Min.Y)
		for x := range z.sw {
			b.cx[x] = int32(s.COffset(s.Rect.Min.X+x, s.Rect.Min.Y) - c0)
		}
	}
	// Horizontal: each source row to dw values a channel. 8-bit samples
	// are read where they are, with the weights times 0x101 (a sample's
	// 16-bit value is 0x101 times its byte); YCbCr is converted first.
	for y := range z.sh {
		tmp := b.tmp[y*m : (y+1)*m]
		switch s := src.(type) {
		case *image.Gray:
			o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
			prevHpass1(tmp, s.Pix[o:o+z.sw], 1, &z.h, 0x101)
		case *image.RGBA:
			o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
			if channels == 1 {
				prevHpass1(tmp, s.Pix[o:o+4*z.sw], 4, &z.h, 0x101)
			} else {
				prevHpass3(tmp, s.Pix[o:o+4*z.sw], 4, &z.h, 0x101)
			}
		case *image.NRGBA: // opaque: the same values as RGBA
			o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
			if channels == 1 {
				prevHpass1(tmp, s.Pix[o:o+4*z.sw], 4, &z.h, 0x101)
			} else {
				prevHpass3(tmp, s.Pix[o:o+4*z.sw], 4, &z.h, 0x101)
			}
		default:
			z.loadRow(b, src, y)
			prevHpass3(tmp, b.row[:3*z.sw], 3, &z.h, 1)
		}
	}
	// Vertical: each output row from the rows of tmp it takes, four rows
	// at a time, in memory order.
	const vs = prevFixW + prevFixT
	acc, out := b.acc[:m], b.out[:m]
	n := z.v.n
	for dy := range z.dh {
		f := int(z.v.first[dy])
		ws := z.v.dense[dy*n : dy*n+n]
		clear(acc)
		k := 0
		for ; k+3 < n; k += 4 {
			r0, r1, r2, r3 := b.tmp[(f+k)*m:(f+k+1)*m], b.tmp[(f+k+1)*m:(f+k+2)*m], b.tmp[(f+k+2)*m:(f+k+3)*m], b.tmp[(f+k+3)*m:(f+k+4)*m]
			w0, w1, w2, w3 := ws[k], ws[k+1], ws[k+2], ws[k+3]
			r1, r2, r3 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)]
			acc := acc[:len(r0)]
			for j, v := range r0 {
				acc[j] += int64(v)*w0 + int64(r1[j])*w1 + int64(r2[j])*w2 + int64(r3[j])*w3
			}
		}
		for ; k < n; k++ {
			r0, w0 := b.tmp[(f+k)*m:(f+k+1)*m], ws[k]
			if w0 == 0 {
				continue
			}
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

// prevHpass3 filters one row of three-channel samples (stride elements
// apart, the channels first) into dst, dw × 3 values in 16-bit units with
// prevFixT fraction bits; unit scales the samples to 16-bit units.
func prevHpass3[T uint8 | int32](dst []int32, row []T, stride int, t *prevTaps, unit int64) {
	const hs = prevFixW - prevFixT
	n := t.n
	if n == 6 && stride == 4 {
		prevHpass3x6(dst, row, t, unit)
		return
	}
	if n == 6 && stride == 3 {
		prevHpass3x6s3(dst, row, t, unit)
		return
	}
	for i := range len(dst) / 3 {
		f := int(t.first[i]) * stride
		ws := t.dense[i*n : i*n+n]
		p := row[f : f+stride*n]
		var ar, ag, ab int64
		for k, w := range ws {
			q := p[stride*k : stride*k+3 : stride*k+3]
			ar += int64(q[0]) * w
			ag += int64(q[1]) * w
			ab += int64(q[2]) * w
		}
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0] = int32((ar*unit + 1<<(hs-1)) >> hs)
		d[1] = int32((ag*unit + 1<<(hs-1)) >> hs)
		d[2] = int32((ab*unit + 1<<(hs-1)) >> hs)
	}
}

// prevHpass3x6 is prevHpass3 for six prevTaps and four-element samples (RGBA or
// NRGBA shrunk by up to ≈ 1.4, as the centre's photo into the card's
// box), the prevTaps written out.
func prevHpass3x6[T uint8 | int32](dst []int32, row []T, t *prevTaps, unit int64) {
	const hs = prevFixW - prevFixT
	for i := range len(dst) / 3 {
		f := int(t.first[i]) * 4
		w := t.dense[i*6 : i*6+6 : i*6+6]
		p := row[f : f+24 : f+24]
		ar := int64(p[0])*w[0] + int64(p[4])*w[1] + int64(p[8])*w[2] + int64(p[12])*w[3] + int64(p[16])*w[4] + int64(p[20])*w[5]
		ag := int64(p[1])*w[0] + int64(p[5])*w[1] + int64(p[9])*w[2] + int64(p[13])*w[3] + int64(p[17])*w[4] + int64(p[21])*w[5]
		ab := int64(p[2])*w[0] + int64(p[6])*w[1] + int64(p[10])*w[2] + int64(p[14])*w[3] + int64(p[18])*w[4] + int64(p[22])*w[5]
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0] = int32((ar*unit + 1<<(hs-1)) >> hs)
		d[1] = int32((ag*unit + 1<<(hs-1)) >> hs)
		d[2] = int32((ab*unit + 1<<(hs-1)) >> hs)
	}
}

// prevHpass3x6s3 is prevHpass3x6 for three-element samples (YCbCr rows
// converted).
func prevHpass3x6s3[T uint8 | int32](dst []int32, row []T, t *prevTaps, unit int64) {
	const hs = prevFixW - prevFixT
	for i := range len(dst) / 3 {
		f := int(t.first[i]) * 3
		w := t.dense[i*6 : i*6+6 : i*6+6]
		p := row[f : f+18 : f+18]
		ar := int64(p[0])*w[0] + int64(p[3])*w[1] + int64(p[6])*w[2] + int64(p[9])*w[3] + int64(p[12])*w[4] + int64(p[15])*w[5]
		ag := int64(p[1])*w[0] + int64(p[4])*w[1] + int64(p[7])*w[2] + int64(p[10])*w[3] + int64(p[13])*w[4] + int64(p[16])*w[5]
		ab := int64(p[2])*w[0] + int64(p[5])*w[1] + int64(p[8])*w[2] + int64(p[11])*w[3] + int64(p[14])*w[4] + int64(p[17])*w[5]
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0] = int32((ar*unit + 1<<(hs-1)) >> hs)
		d[1] = int32((ag*unit + 1<<(hs-1)) >> hs)
		d[2] = int32((ab*unit + 1<<(hs-1)) >> hs)
	}
}

// prevHpass1 is prevHpass3 for one channel, stride bytes apart.
func prevHpass1(dst []int32, row []uint8, stride int, t *prevTaps, unit int64) {
	const hs = prevFixW - prevFixT
	n := t.n
	for i := range dst {
		f := int(t.first[i]) * stride
		ws := t.dense[i*n : i*n+n]
		p := row[f : f+stride*(n-1)+1]
		var a int64
		for k, w := range ws {
			a += int64(p[stride*k]) * w
		}
		dst[i] = int32((a*unit + 1<<(hs-1)) >> hs)
	}
}

var prevFixedScalers sizeCache[*prevFixedScaler]

// prevFixedScalerFor returns the scaler for these sizes, made once.
func prevFixedScalerFor(dw, dh, sw, sh int) *prevFixedScaler {
	return prevFixedScalers.get(dw, dh, sw, sh, func() *prevFixedScaler { return newPrevFixedScaler(dw, dh, sw, sh) })
}

// drawFixedPrevious draws img scaled to target as drawImage does — on the colour
// layer the scaled pixels (opaque), on the K layer their luminance where
// darker than the panel — with prevFixedScaler, and says whether it could:
// false for a source kind it does not read or a target outside the card.
func drawFixedPrevious(dst image.Image, target image.Rectangle, img image.Image) bool {
	if !useFixed {
		return false
	}
	channels, ok := prevFixedSource(img)
	if !ok || !target.In(dst.Bounds()) {
		return false
	}
	sb := img.Bounds()
	z := prevFixedScalerFor(target.Dx(), target.Dy(), sb.Dx(), sb.Dy())
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

// benchScalers alternates the fourth pass's scaler and this one, call by
// call, drawing img into el's box on dst.
func benchScalers(b *testing.B, dst draw.Image, el *element, img image.Image) {
	defer func() { drawFixedPrev = nil }()
	benchcpu.Compare(b, []string{"prev", "now"},
		func() { drawFixedPrev = drawFixedPrevious; drawImage(dst, el, img); drawFixedPrev = nil },
		func() { drawImage(dst, el, img) })
}

// BenchmarkPhotoScaleFifth: the centre's photo (240 × 320 WebP lossless,
// decoded as *image.NRGBA; PNG gave *image.RGBA) and the sample JPEG into
// the demo's photo box, the scaler as the fourth pass left it against
// this one.
func BenchmarkPhotoScaleFifth(b *testing.B) {
	el := &element{x: 770, y: 124, w: 200, h: 250}
	jpg, err := decodeImage("photo", sample.Photo(1), nil)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"nrgba", randomPhoto(r, "nrgba", 240, 320)}, {"rgba", randomPhoto(r, "rgba", 240, 320)}, {"jpeg", jpg}} {
		b.Run(c.name, func(b *testing.B) {
			benchScalers(b, image.NewRGBA(image.Rect(0, 0, Width, Height)), el, c.img)
		})
	}
}

// BenchmarkSignatureScale: the centre's signature (300 × 100 grey, sent as
// WebP lossless: an opaque *image.NRGBA with R = G = B) into the demo's
// signature box on the K layer.
func BenchmarkSignatureScale(b *testing.B) {
	el := &element{x: 780, y: 454, w: 180, h: 96}
	img := randomPhoto(rand.New(rand.NewPCG(2, 2)), "grey-nrgba", 300, 100)
	benchScalers(b, image.NewGray(image.Rect(0, 0, Width, Height)), el, img)
}

// SetScalerPrevious switches drawFixed to the fourth pass's scaler (prev)
// or back, for the external benchmarks' same-run comparisons.
func SetScalerPrevious(prev bool) {
	drawFixedPrev = nil
	if prev {
		drawFixedPrev = drawFixedPrevious
	}
}

// BenchmarkPhotoScaleFifthCold: BenchmarkPhotoScaleFifth's NRGBA photo
// with the caches cold, as in the daemon (its profile had the scaler at
// twice these benchmarks' time): before each call, untimed, 4 MB are
// written (more than this machine's 1.25 MB second-level cache), then
// the photo is decoded afresh — copied from a kept original, as a decode
// writes it. ms-prev and ms-now are the two scalers' medians.
func BenchmarkPhotoScaleFifthCold(b *testing.B) {
	defer func() { drawFixedPrev = nil }()
	el := &element{x: 770, y: 124, w: 200, h: 250}
	orig := randomPhoto(rand.New(rand.NewPCG(1, 1)), "nrgba", 240, 320).(*image.NRGBA)
	img := &image.NRGBA{Pix: make([]uint8, len(orig.Pix)), Stride: orig.Stride, Rect: orig.Rect}
	dst := image.NewRGBA(image.Rect(0, 0, Width, Height))
	junk := make([]uint64, 4<<20/8)
	evict := func() {
		for i := range junk {
			junk[i] += uint64(i)
		}
		copy(img.Pix, orig.Pix)
	}
	benchcpu.Compare(b, []string{"evict1", "prev", "evict2", "now"},
		evict,
		func() { drawFixedPrev = drawFixedPrevious; drawImage(dst, el, img); drawFixedPrev = nil },
		evict,
		func() { drawImage(dst, el, img) })
}
