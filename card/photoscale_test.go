package card

import (
	"bytes"
	"image"
	"image/color"
	"math/rand/v2"
	"slices"
	"testing"

	"printstation/card/sample"
	"printstation/internal/benchcpu"
)

// randomPhoto is a photo of one of the kinds the decoders return, with
// smooth areas, edges and noise (as faces and their sensor noise have),
// its bounds not at the origin.
func randomPhoto(r *rand.Rand, kind string, w, h int) image.Image {
	// Not at the origin; not above y = 0 either: x/image's YCbCr paths
	// read past the chroma planes for some sizes there (seen with 4:4:0),
	// and decoders put images at the origin.
	rect := image.Rect(3, 5, 3+w, 5+h)
	val := func(x, y, c int) uint8 {
		v := 128 + 100*((x*(c+1)+y*(3-c))%97-48)/48 // ramps
		if (x/11+y/7+c)%5 == 0 {
			v = 255 - v // edges
		}
		v += r.IntN(21) - 10 // noise
		return uint8(min(max(v, 0), 255))
	}
	grey := kind == "grey-rgba" || kind == "grey-nrgba"
	rg := kind == "rg-nrgba" // red = green, blue not: colour
	if grey {
		kind = kind[len("grey-"):]
	}
	if rg {
		kind = "nrgba"
	}
	switch kind {
	case "rgba", "nrgba":
		var pix []uint8
		var stride int
		var img image.Image
		if kind == "rgba" {
			m := image.NewRGBA(rect)
			pix, stride, img = m.Pix, m.Stride, m
		} else {
			m := image.NewNRGBA(rect)
			pix, stride, img = m.Pix, m.Stride, m
		}
		for y := range h {
			for x := range w {
				p := pix[y*stride+4*x:]
				p[0], p[1], p[2], p[3] = val(x, y, 0), val(x, y, 1), val(x, y, 2), 255
				if grey { // as a grey signature sent as WebP
					p[1], p[2] = p[0], p[0]
				}
				if rg {
					p[1] = p[0]
				}
			}
		}
		return img
	case "gray":
		m := image.NewGray(rect)
		for y := range h {
			for x := range w {
				m.Pix[y*m.Stride+x] = val(x, y, 0)
			}
		}
		return m
	}
	ratios := map[string]image.YCbCrSubsampleRatio{
		"ycc444": image.YCbCrSubsampleRatio444, "ycc422": image.YCbCrSubsampleRatio422,
		"ycc420": image.YCbCrSubsampleRatio420, "ycc440": image.YCbCrSubsampleRatio440,
		"ycc411": image.YCbCrSubsampleRatio411, "ycc410": image.YCbCrSubsampleRatio410,
	}
	m := image.NewYCbCr(rect, ratios[kind])
	for i := range m.Y {
		m.Y[i] = val(i%97, i/97, 0)
	}
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = val(i%89, i/89, 1), val(i%83, i/83, 2)
	}
	return m
}

// TestFixedScalerIsCatmullRom: over random photos of every kind the
// fixed-point scaler reads, random sizes (shrinking and enlarging) and
// boxes, on the colour and the K layer, no channel differs from x/image's
// CatmullRom by more than 1 of 255, and at most 1 in 1000 differ at all.
// Kinds it does not read (translucent, paletted, CMYK) are drawn by
// x/image, byte for byte.
func TestFixedScalerIsCatmullRom(t *testing.T) {
	defer func() { useFixed = true }()
	r := rand.New(rand.NewPCG(18, 4))
	draw1 := func(fixed bool, img image.Image, el *element, k bool) []byte {
		useFixed = fixed
		return drawOnPlainCard(img, el, k)
	}
	kinds := []string{"rgba", "nrgba", "grey-rgba", "grey-nrgba", "rg-nrgba", "gray", "ycc444", "ycc422", "ycc420", "ycc440", "ycc411", "ycc410"}
	var channels, differ int
	for i := range 96 {
		kind := kinds[i%len(kinds)]
		w, h := 1+r.IntN(400), 1+r.IntN(400)
		if i < len(kinds) {
			w, h = 240, 320 // the centre's photo
		}
		img := randomPhoto(r, kind, w, h)
		el := &element{x: float64(r.IntN(600)) + r.Float64(), y: float64(r.IntN(300)), w: float64(8 + r.IntN(400)), h: float64(8 + r.IntN(340))}
		if i < len(kinds) {
			el = &element{x: 770, y: 124, w: 200, h: 250} // the demo's photo box
		}
		for _, k := range []bool{false, true} {
			want, got := draw1(false, img, el, k), draw1(true, img, el, k)
			n := 0
			for j := range want {
				d := int(got[j]) - int(want[j])
				if d > 1 || d < -1 {
					t.Fatalf("%s %d×%d in %+v (K %v): byte %d is %d, CatmullRom %d", kind, w, h, *el, k, j, got[j], want[j])
				}
				if d != 0 {
					n++
				}
			}
			differ += n
			// Only the box's pixels can differ; count those.
			bw, bh := int(el.w)+2, int(el.h)+2
			if k {
				channels += bw * bh
			} else {
				channels += 3 * bw * bh
			}
		}
	}
	t.Logf("%d of ≈ %d channels differ by one level (%.2g)", differ, channels, float64(differ)/float64(channels))
	if differ*1000 > channels {
		t.Errorf("%d of ≈ %d channels differ from CatmullRom: more than 1 in 1000", differ, channels)
	}
	// Drawn by x/image: the same bytes either way.
	trans := randomPhoto(r, "nrgba", 120, 160).(*image.NRGBA)
	trans.Pix[3] = 100
	pal := image.NewPaletted(image.Rect(0, 0, 50, 60), color.Palette{color.Black, color.White, color.RGBA{200, 10, 10, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	cmyk := image.NewCMYK(image.Rect(0, 0, 40, 30))
	for i := range cmyk.Pix {
		cmyk.Pix[i] = uint8(i * 5)
	}
	for _, img := range []image.Image{trans, pal, cmyk} {
		el := &element{x: 100, y: 100, w: 200, h: 250}
		for _, k := range []bool{false, true} {
			if !bytes.Equal(draw1(true, img, el, k), draw1(false, img, el, k)) {
				t.Errorf("%T (K %v): not x/image's pixels", img, k)
			}
		}
	}
}

// TestFixedScalerFlat: a flat photo stays exactly flat (the weights sum to
// exactly one), at every grey level.
func TestFixedScalerFlat(t *testing.T) {
	for v := range 256 {
		g := image.NewGray(image.Rect(0, 0, 240, 320))
		for i := range g.Pix {
			g.Pix[i] = uint8(v)
		}
		dst := image.NewRGBA(image.Rect(0, 0, Width, Height))
		if !drawFixed(dst, image.Rect(10, 10, 198, 260), g) {
			t.Fatal("a grey photo not drawn by fixedScaler")
		}
		for y := 10; y < 260; y++ {
			for x := 10; x < 198; x++ {
				if p := dst.Pix[dst.PixOffset(x, y):]; p[0] != uint8(v) || p[1] != uint8(v) || p[2] != uint8(v) || p[3] != 255 {
					t.Fatalf("grey %d: pixel (%d,%d) is %v", v, x, y, p[:4])
				}
			}
		}
	}
}

// BenchmarkPhotoScale: the demo photo box filled from the centre's kind of
// photo (240 × 320 PNG, decoded as *image.RGBA) and from the sample JPEG,
// fixed point against x/image's CatmullRom, alternated call by call.
func BenchmarkPhotoScale(b *testing.B) {
	defer func() { useFixed = true }()
	el := &element{x: 770, y: 124, w: 200, h: 250}
	jpg, err := decodeImage("photo", sample.Photo(1), nil)
	if err != nil {
		b.Fatal(err)
	}
	for name, img := range map[string]image.Image{"rgba": randomPhoto(rand.New(rand.NewPCG(1, 1)), "rgba", 240, 320), "jpeg": jpg} {
		b.Run(name, func(b *testing.B) {
			dst := image.NewRGBA(image.Rect(0, 0, Width, Height))
			benchcpu.Compare(b, []string{"xdraw", "fixed"},
				func() { useFixed = false; drawImage(dst, el, img); useFixed = true },
				func() { drawImage(dst, el, img) })
		})
	}
}

// TestPairsAreScalar: the pair passes (two products a multiplication, in
// 32-bit lanes of a uint64) give bit for bit the sums of the one-product
// passes, for windows of six (written out, one row and two rows at a
// time), eight (one channel, written out) and any other even width, on
// random rows and on rows of 0 and 255 only, which drive the lanes'
// sums furthest from zero. It fails if the low lane's bias is taken out.
func TestPairsAreScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 5))
	sizes := [][2]int{{188, 240}, {180, 300}, {60, 100}, {250, 320}, {9, 10}, {30, 7}, {7, 30}}
	for range 40 {
		sizes = append(sizes, [2]int{1 + r.IntN(300), 2 + r.IntN(400)})
	}
	for _, sz := range sizes {
		dw, sw := sz[0], sz[1]
		tp := newTaps(dw, sw, fixH)
		if tp.np == 0 {
			continue
		}
		for round := range 12 {
			rows := [2][]uint8{make([]uint8, 4*sw), make([]uint8, 4*sw)}
			for _, row := range rows {
				for i := range row {
					switch {
					case round < 4:
						row[i] = uint8(r.IntN(256))
					case round < 10:
						row[i] = uint8(255 * r.IntN(2))
					default:
						row[i] = uint8(255 * (round & 1))
					}
				}
			}
			want := [2][]float64{make([]float64, 3*dw), make([]float64, 3*dw)}
			got := [2][]float64{make([]float64, 3*dw), make([]float64, 3*dw)}
			for k := range 2 {
				hbytes3(want[k], rows[k], &tp)
				hpairs3(got[k], rows[k], &tp)
				if !slices.Equal(got[k], want[k]) {
					t.Fatalf("%d → %d (window %d), round %d: hpairs3 differs from hbytes3", sw, dw, tp.np, round)
				}
			}
			if tp.win6 != nil {
				clear(got[0])
				clear(got[1])
				hpairs3x6two(got[0], got[1], rows[0], rows[1], tp.win6)
				if !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
					t.Fatalf("%d → %d, round %d: hpairs3x6two differs from hbytes3", sw, dw, round)
				}
			}
			want1, got1 := make([]float64, dw), make([]float64, dw)
			hbytes1(want1, rows[0], 4, &tp)
			hpairs1(got1, rows[0], &tp)
			if !slices.Equal(got1, want1) {
				t.Fatalf("%d → %d (window %d), round %d: hpairs1 differs from hbytes1", sw, dw, tp.np, round)
			}
		}
	}
}

// TestWeightMargins: for every pair of sizes up to 64 and 3000 random
// ones up to 1000, the sums of the weights' magnitudes stay well inside
// the bounds newFixedScaler checks (1.875 and 2), so it does not refuse
// a size and the lanes of the pair passes cannot overflow.
func TestWeightMargins(t *testing.T) {
	var hmax, vmax float64
	check := func(dw, sw int) {
		tp := newTaps(dw, sw, fixH)
		hmax = max(hmax, float64(tp.sumAbs)/(1<<fixH))
		vmax = max(vmax, tp.fsumAbs)
	}
	for sw := 1; sw <= 64; sw++ {
		for dw := 1; dw <= 64; dw++ {
			check(dw, sw)
		}
	}
	r := rand.New(rand.NewPCG(18, 7))
	for range 3000 {
		check(1+r.IntN(1000), 1+r.IntN(1000))
	}
	t.Logf("largest Σ|w|: %.4f (fixed point), %.4f (float)", hmax, vmax)
	if hmax > 1.5 || vmax > 1.5 {
		t.Errorf("Σ|w| up to %.4f, %.4f: too close to newFixedScaler's bounds", hmax, vmax)
	}
}

// TestScanOpaque: the 16- and 32-byte reading of opacity and greyness
// says what the pixel-by-pixel reading says (the fourth pass's, kept as
// prevScanOpaque), for every width from 1 to 19 and one pixel made
// translucent or coloured at every position, or coloured in the first
// row and translucent at every position after (alpha read alone), in
// images with and without padding at the end of their rows.
func TestScanOpaque(t *testing.T) {
	for w := 1; w <= 19; w++ {
		for _, pad := range []int{0, 4, 12} {
			for pos := -1; pos < 3*w; pos++ {
				for _, what := range []string{"alpha", "red", "blue", "colour, then alpha"} {
					stride := 4*w + pad
					pix := make([]uint8, 3*stride)
					for i := range pix {
						pix[i] = 0xff
					}
					for y := range 3 {
						for x := range w {
							p := pix[y*stride+4*x:]
							p[0], p[1], p[2] = uint8(10*x), uint8(10*x), uint8(10*x)
						}
						for x := 4 * w; x < stride; x++ {
							pix[y*stride+x] = uint8(x) // padding: neither opaque nor grey
						}
					}
					if pos >= 0 {
						p := pix[(pos/w)*stride+4*(pos%w):]
						switch what {
						case "alpha":
							p[3] = 0xfe
						case "red":
							p[0]++
						case "blue":
							p[2]--
						case "colour, then alpha":
							pix[1]++
							p[3] = 0
						}
					}
					r := image.Rect(2, 3, 2+w, 6)
					c, ok := scanOpaque(pix, stride, r)
					wc, wok := prevScanOpaque(pix, stride, r)
					if c != wc || ok != wok {
						t.Fatalf("width %d, padding %d, %s at %d: (%d, %v), want (%d, %v)", w, pad, what, pos, c, ok, wc, wok)
					}
				}
			}
		}
	}
}

// TestRGBToRGBA: four pixels at a time, and the rest one by one.
func TestRGBToRGBA(t *testing.T) {
	for n := range 11 {
		v := make([]uint8, 3*n)
		for i := range v {
			v[i] = uint8(7*i + 1)
		}
		got, want := make([]uint8, 4*n+4), make([]uint8, 4*n+4)
		for x := range n {
			want[4*x], want[4*x+1], want[4*x+2], want[4*x+3] = v[3*x], v[3*x+1], v[3*x+2], 0xff
		}
		rgbToRGBA(got[:4*n], v)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d pixels: %v, want %v", n, got, want)
		}
	}
}

// TestFixedScalerAgreesWithPrevious: the fifth pass's scaler against the
// fourth's (photoscale_prev_test.go) on the demo's boxes and random ones:
// both are within one level of x/image; between them, too, and they
// differ as rarely.
func TestFixedScalerAgreesWithPrevious(t *testing.T) {
	defer func() { drawFixedPrev = nil }()
	r := rand.New(rand.NewPCG(18, 6))
	kinds := []string{"rgba", "nrgba", "grey-nrgba", "gray", "ycc420", "ycc444"}
	var channels, differ int
	for i := range 36 {
		kind := kinds[i%len(kinds)]
		w, h := 240, 320
		el := &element{x: 770, y: 124, w: 200, h: 250}
		if i >= len(kinds) {
			w, h = 1+r.IntN(400), 1+r.IntN(400)
			el = &element{x: float64(r.IntN(600)) + r.Float64(), y: float64(r.IntN(300)), w: float64(8 + r.IntN(400)), h: float64(8 + r.IntN(340))}
		}
		img := randomPhoto(r, kind, w, h)
		for _, k := range []bool{false, true} {
			drawFixedPrev = drawFixedPrevious
			want := drawOnPlainCard(img, el, k)
			drawFixedPrev = nil
			got := drawOnPlainCard(img, el, k)
			for j := range want {
				d := int(got[j]) - int(want[j])
				if d > 1 || d < -1 {
					t.Fatalf("%s %d×%d in %+v (K %v): byte %d is %d, before %d", kind, w, h, *el, k, j, got[j], want[j])
				}
				if d != 0 {
					differ++
				}
			}
			channels += 3 * (int(el.w) + 2) * (int(el.h) + 2)
		}
	}
	t.Logf("%d of ≈ %d channels differ by one level from the fourth pass's scaler", differ, channels)
	if differ*1000 > channels {
		t.Errorf("%d of ≈ %d channels differ: more than 1 in 1000", differ, channels)
	}
}

// TestVerticalPairsAreSingle: two output rows at once (vpass55d1,
// vpass55d2) give the bytes vpass5 gives for each, on values spanning
// the intermediate range with random kernel-like weights.
func TestVerticalPairsAreSingle(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 8))
	const m = 97
	for round := range 200 {
		rows := make([][]float64, 7)
		for k := range rows {
			rows[k] = make([]float64, m)
			for j := range rows[k] {
				rows[k][j] = float64(r.IntN(1<<31) - 1<<28) // 2⁻²² of a level: −64 … 448 levels
			}
		}
		weights := func() []float64 {
			w := []float64{-0.1 * r.Float64(), r.Float64(), 1 + r.Float64(), r.Float64(), -0.1 * r.Float64()}
			total := 0.0
			for _, v := range w {
				total += v
			}
			for k := range w {
				w[k] *= vScale / total
			}
			return w
		}
		wa, wb := weights(), weights()
		for d := 1; d <= 2; d++ {
			wantA, wantB, gotA, gotB := make([]uint8, m), make([]uint8, m), make([]uint8, m), make([]uint8, m)
			vpass5(wantA, rows[:5], wa)
			vpass5(wantB, rows[d:d+5], wb)
			if d == 1 {
				vpass55d1(gotA, gotB, rows[:6], wa, wb)
			} else {
				vpass55d2(gotA, gotB, rows[:7], wa, wb)
			}
			if !bytes.Equal(gotA, wantA) || !bytes.Equal(gotB, wantB) {
				t.Fatalf("round %d, rows %d apart: the pair's bytes differ from vpass5's", round, d)
			}
		}
	}
}
