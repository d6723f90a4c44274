package card

import (
	"encoding/binary"
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
// the result — for the opaque sources job photos come as: *image.RGBA and
// *image.NRGBA (PNG, WebP lossless), *image.YCbCr (JPEG), *image.Gray
// (PNG, JPEG). Anything else (a translucent or paletted image, a box
// outside the card) takes x/image's scaler as before.
//
// The horizontal pass comes first, a source row at a time, as the
// vertical one needs it (a ring of rows that stays in the first-level
// cache). For 8-bit samples it is exact integer arithmetic with weights in
// units of 2⁻²², two products to one 64-bit multiplication (hpairs3: the
// samples of two neighbouring pixels in the two 32-bit halves of a
// uint64, times a pair of weights, leave the sum of both products in the
// high half; the bounds that keep the halves apart are proven there). The
// vertical pass multiplies those exact sums, as float64, by the kernel's
// weights as computed (not rounded), in float64 as x/image does; it keeps
// its weights in the SSE registers, which Go has sixteen of besides the
// general ones its integer loop ran out of.
//
// It is not bit-identical to x/image's float arithmetic: the horizontal
// weights rounded to 2⁻²² move a filtered value by at most ≈ 0.05 of a
// 16-bit unit (0.02–0.03 on average over the demo's outputs, for the worst
// samples), so the two results differ where the exact value lies that
// close to a rounding boundary, by one 8-bit level; TestFixedScalerIsCatmullRom bounds that (at
// most 1 of 255 on any channel, and on how many channels) over random
// photos of every kind, and docs/bench/station.md counts the printed dots
// it changes. The library is used for every other image; the measured
// reasons for this one are in docs/bench/station.md ("Fourth pass" and
// "Fifth pass: the photo scaler").

// fixH is the fraction bits of the horizontal weights: each output's
// weights sum to exactly 1<<fixH. 22, so that two of their products with
// 8-bit samples fit one uint64 (hpairs3). The vertical pass multiplies in
// float64 with the kernel's weights unrounded (vpass).
const fixH = 22

// taps is one direction of the filter.
type taps struct {
	// Dense: output i takes source samples first[i] … first[i]+n-1 with
	// weights dense[i*n:(i+1)*n], zero where a sample has no tap (adding
	// nothing changes nothing).
	n     int
	first []int32
	dense []int64
	// fw: the weights as computed, normalised, not rounded, laid out as
	// dense.
	fw []float64
	// sumAbs is the largest sum of the weights' magnitudes of one output
	// (≈ 1.2 << fix for this kernel): it bounds every sum of products;
	// fsumAbs is the same of fw (≈ 1.2).
	sumAbs  int64
	fsumAbs float64
	// Pairs (hpairs3, hpairs1): the window rounded up to an even number
	// of samples np (0: the source is narrower, no pairs), output i's
	// starting at first2[i], its weights two by two packed in one uint64,
	// pairs[i*np/2+k] = w[2k+1] + w[2k]·2³² (mod 2⁶⁴).
	np     int
	first2 []int32
	pairs  []uint64
	// win6 is first2 and pairs together for np = 6 (hpairs3x6).
	win6 []win6
}

// win6 is one output's window of six samples: its first byte in an
// RGBA row, its three pairs of weights.
type win6 struct {
	at int
	w  [3]uint64
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
// normalised to sum 1. Rounding to fix fraction bits, the rounding error is
// put on the largest weight so the sum stays exactly 1 (a flat area stays
// exactly flat).
func newTaps(dw, sw, fix int) taps {
	scale := float64(sw) / float64(dw)
	half, argScale := 2.0, 1.0
	if scale > 1 {
		half *= scale
		argScale = 1 / scale
	}
	at := make([]int32, dw+1)
	var coord []int32
	var wq []int64
	var wf []float64
	for i := range dw {
		c := (float64(i)+0.5)*scale - 0.5
		lo := max(0, int(math.Floor(c-half)))
		hi := min(sw, int(math.Ceil(c+half)))
		start := len(wq)
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
			coord = append(coord, int32(s))
		}
		var sum int64
		big := start
		for k, w := range ws {
			wf = append(wf, w/total)
			q := int64(math.Round(w / total * float64(int64(1)<<fix)))
			wq = append(wq, q)
			sum += q
			if q > wq[big] {
				big = start + k
			}
		}
		if len(ws) > 0 {
			wq[big] += 1<<fix - sum
		}
		at[i+1] = int32(len(wq))
	}
	t := taps{}
	for i := range dw {
		lo, hi := at[i], at[i+1]
		if hi > lo {
			t.n = max(t.n, int(coord[hi-1]-coord[lo])+1)
		}
		var s int64
		var fs float64
		for k := lo; k < hi; k++ {
			s += max(wq[k], -wq[k])
			fs += math.Abs(wf[k])
		}
		t.sumAbs, t.fsumAbs = max(t.sumAbs, s), max(t.fsumAbs, fs)
	}
	// dense lays output i's weights out over a window of n samples from
	// first[i], kept inside the source.
	dense := func(n int) (first []int32, ws []int64, fws []float64) {
		first, ws, fws = make([]int32, dw), make([]int64, dw*n), make([]float64, dw*n)
		for i := range dw {
			lo, hi := at[i], at[i+1]
			if hi == lo {
				continue
			}
			f := min(coord[lo], int32(sw-n))
			first[i] = f
			for k := lo; k < hi; k++ {
				ws[i*n+int(coord[k]-f)] = wq[k]
				fws[i*n+int(coord[k]-f)] = wf[k]
			}
		}
		return first, ws, fws
	}
	t.first, t.dense, t.fw = dense(t.n)
	if np := t.n + t.n&1; np <= sw {
		var ws []int64
		t.np = np
		t.first2, ws, _ = dense(np)
		t.pairs = make([]uint64, len(ws)/2)
		for k := range t.pairs {
			t.pairs[k] = uint64(ws[2*k+1]) + uint64(ws[2*k])<<32
		}
		if np == 6 {
			t.win6 = make([]win6, dw)
			for i := range t.win6 {
				t.win6[i] = win6{at: 4 * int(t.first2[i]), w: [3]uint64(t.pairs[3*i : 3*i+3])}
			}
		}
	}
	return t
}

// fixedScaler scales opaque sw × sh images to dw × dh; made once per
// sizes (photoScaler), used by any number of renders at once.
type fixedScaler struct {
	dw, dh, sw, sh int
	h, v           taps
	// ring is how many rows of the horizontal pass are kept (see
	// newFixedScaler).
	ring int
	pool sync.Pool // *scaleBuf
}

type scaleBuf struct {
	ring []float64   // ring rows of the horizontal pass, dw × channels each
	rows [][]float64 // the rows an output row takes
	vw   []float64   // the weights of an output row, scaled (vpass)
	row  []int32     // YCbCr: one source row, 16-bit units, channels interleaved
	cx   []int32     // YCbCr: each column's chroma offset from the row's first
	acc  []float64   // vpass: one output row
	out  []uint8     // two output rows, 8-bit, channels interleaved
}

// newFixedScaler returns nil if the weights' sums could leave the ranges
// the passes are written for (see hpairs3 and vbyte): never for this
// kernel, whose weights' magnitudes sum to ≈ 1.2, checked all the same.
func newFixedScaler(dw, dh, sw, sh int) *fixedScaler {
	z := &fixedScaler{dw: dw, dh: dh, sw: sw, sh: sh, h: newTaps(dw, sw, fixH), v: newTaps(dh, sh, fixH)}
	if z.h.sumAbs > 15<<(fixH-3) || z.v.fsumAbs > 2 {
		return nil
	}
	// The ring holds the rows one step of scale's loop reads — the
	// windows of output rows dy and dy+1 (vpass55), from first[dy] to
	// first[dy+1]+n — and the row made ahead with them (hrow2): as many
	// as the most the rows made so far are ahead of first[dy].
	next := 0
	for dy := range dh {
		f := int(z.v.first[dy])
		next = max(next, int(z.v.first[min(dy+1, dh-1)])+z.v.n+1)
		z.ring = max(z.ring, next-f)
	}
	z.ring = min(z.ring, sh)
	z.pool.New = func() any {
		return &scaleBuf{
			ring: make([]float64, z.ring*3*dw), rows: make([][]float64, max(z.v.n, 7)), vw: make([]float64, max(z.v.n, 10)),
			row: make([]int32, 3*sw), cx: make([]int32, sw),
			acc: make([]float64, 3*dw), out: make([]uint8, 6*dw),
		}
	}
	return z
}

// fixedSource says whether src is one of the kinds fixedScaler reads, and
// how many channels it has (1: grey, 3: colour). An RGBA or NRGBA image
// whose every pixel has R = G = B (a signature sent as WebP, which has no
// grey form) is read as one channel: the three would be filtered alike.
func fixedSource(src image.Image) (channels int, ok bool) {
	return fixedSourceBy(src, scanOpaque)
}

// fixedSourceBy is fixedSource with scan for the four-byte kinds.
func fixedSourceBy(src image.Image, scan func(pix []uint8, stride int, r image.Rectangle) (int, bool)) (channels int, ok bool) {
	switch s := src.(type) {
	case *image.Gray:
		return 1, true
	case *image.YCbCr:
		return 3, true
	case *image.RGBA:
		return scan(s.Pix, s.Stride, s.Rect)
	case *image.NRGBA:
		return scan(s.Pix, s.Stride, s.Rect)
	}
	return 0, false
}

// scanOpaque reads four-byte pixels: ok when every alpha is 0xff, one
// channel when moreover every R = G = B.
func scanOpaque(pix []uint8, stride int, r image.Rectangle) (channels int, ok bool) {
	const alpha = 0xff000000_ff000000
	var diff uint64
	for y := range r.Dy() {
		row := pix[y*stride : y*stride+4*r.Dx()]
		var and uint64
		if diff == 0 {
			var d uint64
			and, d = scanRow(row)
			diff |= d
		} else { // colour already: only the alpha bytes left to read
			and = andRow(row)
		}
		if and&alpha != alpha {
			return 0, false
		}
	}
	if diff == 0 {
		return 1, true
	}
	return 3, true
}

// scanRow reads a row of four-byte pixels 16 bytes at a time: and is the
// AND of its 8-byte words (the alpha bytes at bits 24 and 56), diff
// non-zero if some R ≠ G or G ≠ B: of a little-endian uint64 u of
// R G B A R G B A, the bytes of u ^ u>>8 under 0x0000ffff0000ffff are R^G
// and G^B of each pixel. (A function of its own: inside scanOpaque's
// loop the compiler kept the loop's values on the stack.)
func scanRow(row []uint8) (and, diff uint64) {
	const rgb = 0x0000ffff_0000ffff
	and = ^uint64(0)
	for len(row) >= 16 {
		u, v := binary.LittleEndian.Uint64(row), binary.LittleEndian.Uint64(row[8:])
		and &= u & v
		diff |= u ^ u>>8 | v ^ v>>8
		row = row[16:]
	}
	if len(row) >= 8 {
		u := binary.LittleEndian.Uint64(row)
		and &= u
		diff |= u ^ u>>8
		row = row[8:]
	}
	if len(row) >= 4 { // an odd pixel; the missing one opaque and grey
		u := uint64(binary.LittleEndian.Uint32(row)) | 0xffffffff_00000000
		and &= u
		diff |= u ^ u>>8
	}
	return and, diff & rgb
}

// andRow is scanRow's and alone, 32 bytes at a time.
func andRow(row []uint8) uint64 {
	and := ^uint64(0)
	for len(row) >= 32 {
		and &= binary.LittleEndian.Uint64(row) & binary.LittleEndian.Uint64(row[8:]) &
			binary.LittleEndian.Uint64(row[16:]) & binary.LittleEndian.Uint64(row[24:])
		row = row[32:]
	}
	for len(row) >= 4 { // the alpha bytes of the rest at bit 24
		and &= uint64(binary.LittleEndian.Uint32(row)) | 0xffffffff_00000000
		row = row[4:]
	}
	return and
}

// loadRow puts source row y (relative to its bounds) of a YCbCr image into
// b.row in 16-bit units, converted as image/color does at 16 bits (as
// x/image/draw reads it).
func (z *fixedScaler) loadRow(b *scaleBuf, s *image.YCbCr, y int) {
	ycbcrRow(b.row, s, y, b.cx[:z.sw])
}

// ycbcrRow converts row y (relative to s's bounds) of s into dst, three
// 16-bit values a pixel, for len(cx) pixels. A sample's offsets are a
// row's plus a column's (YOffset and COffset are sums of the two): cx
// holds the columns' chroma offsets, made once per image.
func ycbcrRow(dst []int32, s *image.YCbCr, y int, cx []int32) {
	sy := s.Rect.Min.Y + y
	yrow := s.Y[s.YOffset(s.Rect.Min.X, sy):][:len(cx)]
	crow := s.COffset(s.Rect.Min.X, sy)
	for x, yv := range yrow {
		yy := int32(yv) * 0x10101
		ci := crow + int(cx[x])
		cb, cr := int32(s.Cb[ci])-128, int32(s.Cr[ci])-128
		d := dst[3*x : 3*x+3 : 3*x+3]
		d[0] = clamp16((yy + 91881*cr) >> 8)
		d[1] = clamp16((yy - 22554*cb - 46802*cr) >> 8)
		d[2] = clamp16((yy + 116130*cb) >> 8)
	}
}

func clamp16(v int32) int32 {
	return min(max(v, 0), 0xffff)
}

// hrow filters source row y (relative to src's bounds) horizontally into
// dst, dw × channels values in units of 2⁻²² of an 8-bit level: for
// 8-bit sources Σ sample·weight exactly (an integer below 2³¹, exact in
// a float64), for YCbCr hwide3's.
func (z *fixedScaler) hrow(b *scaleBuf, src image.Image, channels, y int, dst []float64) {
	var pix []uint8
	switch s := src.(type) {
	case *image.Gray:
		o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
		hbytes1(dst, s.Pix[o:o+z.sw], 1, &z.h)
		return
	case *image.YCbCr:
		z.loadRow(b, s, y)
		hwide3(dst, b.row[:3*z.sw], &z.h)
		return
	case *image.RGBA:
		o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
		pix = s.Pix[o : o+4*z.sw]
	case *image.NRGBA: // opaque: the same values as RGBA
		o := s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y)
		pix = s.Pix[o : o+4*z.sw]
	}
	switch {
	case z.h.np == 0 && channels == 1:
		hbytes1(dst, pix, 4, &z.h)
	case z.h.np == 0:
		hbytes3(dst, pix, &z.h)
	case channels == 1:
		hpairs1(dst, pix, &z.h)
	default:
		hpairs3(dst, pix, &z.h)
	}
}

// hrow2 is hrow for rows y and y+1 at once where it can (RGBA or NRGBA,
// three channels, windows of six: hpairs3x6two) and says whether it did.
func (z *fixedScaler) hrow2(src image.Image, channels, y int, dst0, dst1 []float64) bool {
	if channels != 3 || z.h.win6 == nil {
		return false
	}
	var pix []uint8
	var stride int
	switch s := src.(type) {
	case *image.RGBA:
		pix, stride = s.Pix[s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y):], s.Stride
	case *image.NRGBA:
		pix, stride = s.Pix[s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y+y):], s.Stride
	default:
		return false
	}
	hpairs3x6two(dst0, dst1, pix[:4*z.sw], pix[stride:stride+4*z.sw], z.h.win6)
	return true
}

// The pair passes multiply two samples by their two weights with one
// 64-bit multiplication. Two samples p0, p1 of a channel at bits 0 and 32
// of a uint64 (one 8-byte load of two RGBA pixels, masked with laneMask,
// shifted by 8 and 16 for G and B), times a pair of weights
// w1 + w0·2³², is
//
//	p0·w1 + (p0·w0 + p1·w1)·2³² + p1·w0·2⁶⁴
//
// modulo 2⁶⁴: the last term vanishes, the high lane holds the sum that is
// wanted and the low lane a by-product. Summed over the window (from
// laneBias), the sum is ≡ (2³¹ + L) + H·2³² with L = Σ p₂ₖ·w₂ₖ₊₁ and
// H = Σ pⱼ·wⱼ, the filtered value. Both are sums of products of samples in
// 0…255 with weights of one output, so |L|, |H| ≤ 255·sumAbs, and
// newFixedScaler refuses sumAbs > 1.875·2²² (it is ≈ 1.2·2²²): then
// |L|, |H| ≤ 2.006·10⁹ < 2³¹ − 1. So laneBias + L (laneBias = 2³¹ − 1,
// an immediate operand) lies in 0 … 2³²−1, no carry or borrow crosses
// into the high lane, the whole sum is below 2⁶³ in magnitude and
// int64(sum) >> 32 is exactly H. The result is bit for bit that of
// hbytes3 (TestPairsAreScalar).
const (
	laneMask = 0x000000ff_000000ff
	laneBias = 1<<31 - 1
)

// hpairs3 filters one row of RGBA or NRGBA pixels, three channels.
func hpairs3(dst []float64, row []uint8, t *taps) {
	if t.np == 6 {
		hpairs3x6(dst, row, t)
		return
	}
	h := t.np / 2
	for i := range len(dst) / 3 {
		f := 4 * int(t.first2[i])
		ws := t.pairs[i*h : i*h+h]
		p := row[f : f+8*h]
		r, g, b := uint64(laneBias), uint64(laneBias), uint64(laneBias)
		for k, w := range ws {
			u := binary.LittleEndian.Uint64(p[8*k:])
			r += (u & laneMask) * w
			g += (u >> 8 & laneMask) * w
			b += (u >> 16 & laneMask) * w
		}
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = float64(int64(r)>>32), float64(int64(g)>>32), float64(int64(b)>>32)
	}
}

// hpairs3x6 is hpairs3 for windows of six (the centre's photo into the
// card's box, shrunk by 1.28), written out. (As written — one slice
// expression a window, the windows' starts and weights in one array, the
// channels one after the other — the compiler keeps nearly everything
// in registers; other arrangements measured 10–25 % slower.)
func hpairs3x6(dst []float64, row []uint8, t *taps) {
	ws := t.win6
	dst = dst[:3*len(ws)]
	for i := range ws {
		o := &ws[i]
		p := row[o.at : o.at+24 : o.at+24]
		u0, u1, u2 := binary.LittleEndian.Uint64(p[0:8]), binary.LittleEndian.Uint64(p[8:16]), binary.LittleEndian.Uint64(p[16:24])
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0] = float64(int64(laneBias+(u0&laneMask)*o.w[0]+(u1&laneMask)*o.w[1]+(u2&laneMask)*o.w[2]) >> 32)
		u0, u1, u2 = u0>>8, u1>>8, u2>>8
		d[1] = float64(int64(laneBias+(u0&laneMask)*o.w[0]+(u1&laneMask)*o.w[1]+(u2&laneMask)*o.w[2]) >> 32)
		u0, u1, u2 = u0>>8, u1>>8, u2>>8
		d[2] = float64(int64(laneBias+(u0&laneMask)*o.w[0]+(u1&laneMask)*o.w[1]+(u2&laneMask)*o.w[2]) >> 32)
	}
}

// hpairs3x6two is hpairs3x6 for two rows, each window's start and
// weights read once for both.
func hpairs3x6two(dst0, dst1 []float64, row0, row1 []uint8, ws []win6) {
	dst0, dst1 = dst0[:3*len(ws)], dst1[:3*len(ws)]
	for i := range ws {
		o := &ws[i]
		w0, w1, w2 := o.w[0], o.w[1], o.w[2]
		p := row0[o.at : o.at+24 : o.at+24]
		u0, u1, u2 := binary.LittleEndian.Uint64(p[0:8]), binary.LittleEndian.Uint64(p[8:16]), binary.LittleEndian.Uint64(p[16:24])
		d := dst0[3*i : 3*i+3 : 3*i+3]
		d[0] = float64(int64(laneBias+(u0&laneMask)*w0+(u1&laneMask)*w1+(u2&laneMask)*w2) >> 32)
		u0, u1, u2 = u0>>8, u1>>8, u2>>8
		d[1] = float64(int64(laneBias+(u0&laneMask)*w0+(u1&laneMask)*w1+(u2&laneMask)*w2) >> 32)
		u0, u1, u2 = u0>>8, u1>>8, u2>>8
		d[2] = float64(int64(laneBias+(u0&laneMask)*w0+(u1&laneMask)*w1+(u2&laneMask)*w2) >> 32)
		p = row1[o.at : o.at+24 : o.at+24]
		u0, u1, u2 = binary.LittleEndian.Uint64(p[0:8]), binary.LittleEndian.Uint64(p[8:16]), binary.LittleEndian.Uint64(p[16:24])
		d = dst1[3*i : 3*i+3 : 3*i+3]
		d[0] = float64(int64(laneBias+(u0&laneMask)*w0+(u1&laneMask)*w1+(u2&laneMask)*w2) >> 32)
		u0, u1, u2 = u0>>8, u1>>8, u2>>8
		d[1] = float64(int64(laneBias+(u0&laneMask)*w0+(u1&laneMask)*w1+(u2&laneMask)*w2) >> 32)
		u0, u1, u2 = u0>>8, u1>>8, u2>>8
		d[2] = float64(int64(laneBias+(u0&laneMask)*w0+(u1&laneMask)*w1+(u2&laneMask)*w2) >> 32)
	}
}

// hpairs1 is hpairs3 for one channel (a grey image in RGBA form: the
// signature sent as WebP), the red bytes.
func hpairs1(dst []float64, row []uint8, t *taps) {
	h := t.np / 2
	if h == 4 { // the centre's signature into the card's box: windows of 7
		first, pairs := t.first2, t.pairs
		for i := range dst {
			f := 4 * int(first[i])
			w := pairs[4*i : 4*i+4 : 4*i+4]
			p := row[f : f+32 : f+32]
			a := laneBias + (binary.LittleEndian.Uint64(p[0:8])&laneMask)*w[0] +
				(binary.LittleEndian.Uint64(p[8:16])&laneMask)*w[1] +
				(binary.LittleEndian.Uint64(p[16:24])&laneMask)*w[2] +
				(binary.LittleEndian.Uint64(p[24:32])&laneMask)*w[3]
			dst[i] = float64(int64(a) >> 32)
		}
		return
	}
	for i := range dst {
		f := 4 * int(t.first2[i])
		ws := t.pairs[i*h : i*h+h]
		p := row[f : f+8*h]
		a := uint64(laneBias)
		for k, w := range ws {
			a += (binary.LittleEndian.Uint64(p[8*k:]) & laneMask) * w
		}
		dst[i] = float64(int64(a) >> 32)
	}
}

// hbytes3 is hpairs3 one product at a time: for sources narrower than
// the window rounded up to even.
func hbytes3(dst []float64, row []uint8, t *taps) { hloop3(dst, row, 4, t, 1) }

// hloop3 filters a row of three-channel samples, stride elements apart,
// one product at a time, each sum times unit.
func hloop3[T uint8 | int32](dst []float64, row []T, stride int, t *taps, unit float64) {
	n := t.n
	for i := range len(dst) / 3 {
		f := stride * int(t.first[i])
		ws := t.dense[i*n : i*n+n]
		p := row[f : f+stride*(n-1)+3]
		var r, g, b int64
		for k, w := range ws {
			q := p[stride*k : stride*k+3 : stride*k+3]
			r += int64(q[0]) * w
			g += int64(q[1]) * w
			b += int64(q[2]) * w
		}
		d := dst[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = float64(r)*unit, float64(g)*unit, float64(b)*unit
	}
}

// hbytes1 is hbytes3 for one channel, samples stride bytes apart.
func hbytes1(dst []float64, row []uint8, stride int, t *taps) {
	n := t.n
	for i := range dst {
		f := stride * int(t.first[i])
		ws := t.dense[i*n : i*n+n]
		p := row[f : f+stride*(n-1)+1]
		var a int64
		for k, w := range ws {
			a += int64(p[stride*k]) * w
		}
		dst[i] = float64(a)
	}
}

// hwide3 filters a row of 16-bit samples (YCbCr converted), three
// channels, to the units of the 8-bit sources (2⁻²² of an 8-bit level,
// which is 257 16-bit ones): the sum divided by 257.
func hwide3(dst []float64, row []int32, t *taps) {
	if t.n != 6 {
		hloop3(dst, row, 3, t, 1.0/257)
		return
	}
	for i := range len(dst) / 3 {
		f := 3 * int(t.first[i])
		d := dst[3*i : 3*i+3 : 3*i+3]
		w := t.dense[6*i : 6*i+6 : 6*i+6]
		p := row[f : f+18 : f+18]
		r := int64(p[0])*w[0] + int64(p[3])*w[1] + int64(p[6])*w[2] + int64(p[9])*w[3] + int64(p[12])*w[4] + int64(p[15])*w[5]
		g := int64(p[1])*w[0] + int64(p[4])*w[1] + int64(p[7])*w[2] + int64(p[10])*w[3] + int64(p[13])*w[4] + int64(p[16])*w[5]
		b := int64(p[2])*w[0] + int64(p[5])*w[1] + int64(p[8])*w[2] + int64(p[11])*w[3] + int64(p[14])*w[4] + int64(p[17])*w[5]
		d[0], d[1], d[2] = float64(r)*(1.0/257), float64(g)*(1.0/257), float64(b)*(1.0/257)
	}
}

// scale filters src (whose bounds are sw × sh) and calls put for each
// output row dy with its values, 8-bit, channels (1: grey, 3: R, G, B)
// interleaved, dw × channels long. The horizontal pass runs a row at a
// time as the vertical one needs it, into a ring of rows that stays in
// the first-level cache.
func (z *fixedScaler) scale(src image.Image, channels int, put func(dy int, row []uint8)) {
	b := z.pool.Get().(*scaleBuf)
	defer z.pool.Put(b)
	m := z.dw * channels
	if s, ok := src.(*image.YCbCr); ok {
		c0 := s.COffset(s.Rect.Min.X, s.Rect.Min.Y)
		for x := range z.sw {
			b.cx[x] = int32(s.COffset(s.Rect.Min.X+x, s.Rect.Min.Y) - c0)
		}
	}
	n := z.v.n
	out, out1 := b.out[:m], b.out[m:2*m]
	next := 0 // rows of the horizontal pass made so far
	makeRows := func(end int) {
		for next < end {
			if next+1 < z.sh && z.hrow2(src, channels, next, b.ring[(next%z.ring)*m:][:m], b.ring[((next+1)%z.ring)*m:][:m]) {
				next += 2
				continue
			}
			z.hrow(b, src, channels, next, b.ring[(next%z.ring)*m:][:m])
			next++
		}
	}
	// rowsFrom points rows at the ring's rows from source row s on.
	rowsFrom := func(rows [][]float64, s int) {
		for k := range rows {
			rows[k] = b.ring[((s+k)%z.ring)*m:][:m]
		}
	}
	for dy := 0; dy < z.dh; {
		f := int(z.v.first[dy])
		lo, hi := z.v.trim(dy)
		// Two output rows of five taps each whose windows start one or
		// two rows apart (most of the centre's photo's): vpass55 reads
		// the rows they share once.
		if dy+1 < z.dh && hi-lo == 5 {
			f1 := int(z.v.first[dy+1])
			lo1, hi1 := z.v.trim(dy + 1)
			if d := f1 + lo1 - (f + lo); hi1-lo1 == 5 && (d == 1 || d == 2) {
				makeRows(f1 + n)
				rows, wa, wb := b.rows[:5+d], b.vw[:5], b.vw[5:10]
				rowsFrom(rows, f+lo)
				for k := range 5 {
					wa[k] = z.v.fw[dy*n+lo+k] * vScale
					wb[k] = z.v.fw[(dy+1)*n+lo1+k] * vScale
				}
				if d == 1 {
					vpass55d1(out, out1, rows, wa, wb)
				} else {
					vpass55d2(out, out1, rows, wa, wb)
				}
				put(dy, out)
				put(dy+1, out1)
				dy += 2
				continue
			}
		}
		makeRows(f + n)
		rows, vw := b.rows[:hi-lo], b.vw[:hi-lo]
		rowsFrom(rows, f+lo)
		for k := range rows {
			vw[k] = z.v.fw[dy*n+lo+k] * vScale
		}
		vpass(out, rows, vw, b.acc[:m])
		put(dy, out)
		dy++
	}
}

// trim is output i's dense window without its zero weights at either end
// (most of the centre's photo's rows have five taps in a window of six):
// weights lo … hi-1 of it.
func (t *taps) trim(i int) (lo, hi int) {
	ws := t.fw[i*t.n : i*t.n+t.n]
	lo, hi = 0, t.n
	for lo < hi && ws[lo] == 0 {
		lo++
	}
	for hi > lo && ws[hi-1] == 0 {
		hi--
	}
	return lo, hi
}

// vScale brings a vertical sum to twice the 16-bit level: the
// intermediate values are in units of 2⁻²² of an 8-bit level, and a
// 16-bit level is 1/257 of an 8-bit one.
const vScale = 257.0 / (1 << 21)

// vpass filters rows vertically into out, with the weights ws times
// vScale. Each sum is made in float64, as x/image makes it: of values
// below 2³¹ (exact) and weights as the kernel gives them.
func vpass(out []uint8, rows [][]float64, ws []float64, acc []float64) {
	switch len(rows) {
	case 5:
		vpass5(out, rows, ws)
		return
	case 6:
		vpass6(out, rows, ws)
		return
	case 7:
		vpass7(out, rows, ws)
		return
	}
	// Any other height: two rows at a time into acc.
	clear(acc)
	k := 0
	for ; k+1 < len(rows); k += 2 {
		r0, r1 := rows[k][:len(acc)], rows[k+1][:len(acc)]
		w0, w1 := ws[k], ws[k+1]
		for j, v := range r0 {
			acc[j] += v*w0 + r1[j]*w1
		}
	}
	if k < len(rows) {
		r0, w0 := rows[k][:len(acc)], ws[k]
		for j, v := range r0 {
			acc[j] += v * w0
		}
	}
	out = out[:len(acc)]
	for j, a := range acc {
		out[j] = vbyte(a)
	}
}

// vbyte is the output byte of a vertical sum u, twice the 16-bit value
// v: v rounded to nearest (x/image's ftou), clamped to 0…0xffff, then
// its high byte, which is ⌊(v + ½)/256⌋ = ⌊(⌊u⌋ + 1)/512⌋ clamped to
// 0…255. int(u) truncates towards zero, not down, only where that is
// negative anyway. |u| ≤ 2·65535·1.875·2 (newFixedScaler's bounds), so
// the index stays in the table, whose middle, vClampMid, is level 0.
func vbyte(u float64) uint8 {
	return vClamp[(int(u)+1+vClampMid<<9)>>9&(len(vClamp)-1)]
}

const vClampMid = 2048

var vClamp = func() (t [2 * vClampMid]uint8) {
	for i := range t {
		t[i] = uint8(min(max(i-vClampMid, 0), 255))
	}
	return t
}()

// vpass55d1 and vpass55d2 are vpass5 for two output rows at once, A
// from rows[0:5] with weights wa and B from rows[d:d+5] with wb (d = 1,
// 2): each value of the rows both read is loaded once. The sums are the
// same expressions as vpass5's, so the bytes are the same
// (TestVerticalPairsAreSingle).
func vpass55d1(outA, outB []uint8, rows [][]float64, wa, wb []float64) {
	n := len(outA)
	outB = outB[:n]
	r0, r1, r2, r3, r4, r5 := rows[0][:n], rows[1][:n], rows[2][:n], rows[3][:n], rows[4][:n], rows[5][:n]
	a0, a1, a2, a3, a4 := wa[0], wa[1], wa[2], wa[3], wa[4]
	b0, b1, b2, b3, b4 := wb[0], wb[1], wb[2], wb[3], wb[4]
	for j := range outA {
		v1, v2, v3, v4 := r1[j], r2[j], r3[j], r4[j]
		outA[j] = vbyte(r0[j]*a0 + v1*a1 + v2*a2 + v3*a3 + v4*a4)
		outB[j] = vbyte(v1*b0 + v2*b1 + v3*b2 + v4*b3 + r5[j]*b4)
	}
}

func vpass55d2(outA, outB []uint8, rows [][]float64, wa, wb []float64) {
	n := len(outA)
	outB = outB[:n]
	r0, r1, r2, r3, r4, r5, r6 := rows[0][:n], rows[1][:n], rows[2][:n], rows[3][:n], rows[4][:n], rows[5][:n], rows[6][:n]
	a0, a1, a2, a3, a4 := wa[0], wa[1], wa[2], wa[3], wa[4]
	b0, b1, b2, b3, b4 := wb[0], wb[1], wb[2], wb[3], wb[4]
	for j := range outA {
		v2, v3, v4 := r2[j], r3[j], r4[j]
		outA[j] = vbyte(r0[j]*a0 + r1[j]*a1 + v2*a2 + v3*a3 + v4*a4)
		outB[j] = vbyte(v2*b0 + v3*b1 + v4*b2 + r5[j]*b3 + r6[j]*b4)
	}
}

// vpass5, vpass6, vpass7: vpass for five, six and seven rows, written out.
func vpass5(out []uint8, rows [][]float64, ws []float64) {
	r0, r1, r2, r3, r4 := rows[0][:len(out)], rows[1][:len(out)], rows[2][:len(out)], rows[3][:len(out)], rows[4][:len(out)]
	w0, w1, w2, w3, w4 := ws[0], ws[1], ws[2], ws[3], ws[4]
	for j := range out {
		out[j] = vbyte(r0[j]*w0 + r1[j]*w1 + r2[j]*w2 + r3[j]*w3 + r4[j]*w4)
	}
}

func vpass6(out []uint8, rows [][]float64, ws []float64) {
	r0, r1, r2, r3, r4, r5 := rows[0][:len(out)], rows[1][:len(out)], rows[2][:len(out)], rows[3][:len(out)], rows[4][:len(out)], rows[5][:len(out)]
	w0, w1, w2, w3, w4, w5 := ws[0], ws[1], ws[2], ws[3], ws[4], ws[5]
	for j := range out {
		out[j] = vbyte(r0[j]*w0 + r1[j]*w1 + r2[j]*w2 + r3[j]*w3 + r4[j]*w4 + r5[j]*w5)
	}
}

func vpass7(out []uint8, rows [][]float64, ws []float64) {
	r0, r1, r2, r3, r4, r5, r6 := rows[0][:len(out)], rows[1][:len(out)], rows[2][:len(out)], rows[3][:len(out)], rows[4][:len(out)], rows[5][:len(out)], rows[6][:len(out)]
	w0, w1, w2, w3, w4, w5, w6 := ws[0], ws[1], ws[2], ws[3], ws[4], ws[5], ws[6]
	for j := range out {
		out[j] = vbyte(r0[j]*w0 + r1[j]*w1 + r2[j]*w2 + r3[j]*w3 + r4[j]*w4 + r5[j]*w5 + r6[j]*w6)
	}
}

// rgbToRGBA writes the pixels of v (R, G, B) into dst as opaque RGBA,
// four at a time: 12 bytes read as a uint64 and a uint32, 16 written as
// two uint64 with the alpha bytes set.
func rgbToRGBA(dst, v []uint8) {
	const alpha = 0xff000000_ff000000
	for len(v) >= 12 && len(dst) >= 16 {
		x, y := binary.LittleEndian.Uint64(v), uint64(binary.LittleEndian.Uint32(v[8:]))
		binary.LittleEndian.PutUint64(dst, x&0xffffff|(x&0xffffff000000)<<8|alpha)
		binary.LittleEndian.PutUint64(dst[8:], x>>48|(y&0xff)<<16|(y>>8)<<32|alpha)
		v, dst = v[12:], dst[16:]
	}
	for len(v) >= 3 && len(dst) >= 4 {
		dst[0], dst[1], dst[2], dst[3] = v[0], v[1], v[2], 0xff
		v, dst = v[3:], dst[4:]
	}
}

// useFixed is switched off by tests and benchmarks to compare.
var useFixed = true

// drawFixedPrev, when set (by the benchmarks and tests of
// photoscale_prev_test.go), draws in drawFixed's place: the scaler as the
// fourth pass left it, for same-run comparisons.
var drawFixedPrev func(dst image.Image, target image.Rectangle, img image.Image) bool

// sizeCache keeps one value per output and source size, made once:
// every photo of a template has the same size and box, so one scaler
// serves every card. Sizes vary only with templates and photo sizes: at
// 16 the cache starts again.
type sizeCache[T any] struct {
	mu sync.Mutex
	m  map[[4]int]T
}

func (c *sizeCache[T]) get(dw, dh, sw, sh int, make func() T) T {
	k := [4]int{dw, dh, sw, sh}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[k]; ok {
		return v
	}
	if c.m == nil || len(c.m) >= 16 {
		c.m = map[[4]int]T{}
	}
	v := make()
	c.m[k] = v
	return v
}

var fixedScalers sizeCache[*fixedScaler]

// fixedScalerFor returns the scaler for these sizes, made once (nil if
// newFixedScaler refuses them).
func fixedScalerFor(dw, dh, sw, sh int) *fixedScaler {
	return fixedScalers.get(dw, dh, sw, sh, func() *fixedScaler { return newFixedScaler(dw, dh, sw, sh) })
}

// drawFixed draws img scaled to target as drawImage does — on the colour
// layer the scaled pixels (opaque), on the K layer their luminance where
// darker than the panel — with fixedScaler, and says whether it could:
// false for a source kind it does not read or a target outside the card.
func drawFixed(dst image.Image, target image.Rectangle, img image.Image) bool {
	if !useFixed {
		return false
	}
	if drawFixedPrev != nil {
		return drawFixedPrev(dst, target, img)
	}
	channels, ok := fixedSource(img)
	if !ok || !target.In(dst.Bounds()) {
		return false
	}
	sb := img.Bounds()
	z := fixedScalerFor(target.Dx(), target.Dy(), sb.Dx(), sb.Dy())
	if z == nil {
		return false
	}
	switch d := dst.(type) {
	case *image.RGBA:
		rowOf := func(dy int) []uint8 {
			o := d.PixOffset(target.Min.X, target.Min.Y+dy)
			return d.Pix[o : o+4*z.dw]
		}
		if channels == 1 {
			z.scale(img, 1, func(dy int, v []uint8) {
				row := rowOf(dy)
				for x, g := range v[:z.dw] {
					p := row[4*x : 4*x+4 : 4*x+4]
					p[0], p[1], p[2], p[3] = g, g, g, 0xff
				}
			})
			return true
		}
		z.scale(img, 3, func(dy int, v []uint8) { rgbToRGBA(rowOf(dy), v[:3*z.dw]) })
		return true
	case *image.Gray:
		rowOf := func(dy int) []uint8 {
			o := d.PixOffset(target.Min.X, target.Min.Y+dy)
			return d.Pix[o : o+z.dw]
		}
		if channels == 1 {
			// grey: r = g = b, and the luminance is that value
			z.scale(img, 1, func(dy int, v []uint8) {
				row := rowOf(dy)
				for x, lum := range v[:len(row)] {
					row[x] = min(row[x], lum)
				}
			})
			return true
		}
		z.scale(img, 3, func(dy int, v []uint8) {
			row := rowOf(dy)
			for x := range row {
				c := v[3*x : 3*x+3 : 3*x+3]
				lum := uint8((299*int(c[0]) + 587*int(c[1]) + 114*int(c[2]) + 500) / 1000)
				row[x] = min(row[x], lum)
			}
		})
		return true
	}
	return false
}
