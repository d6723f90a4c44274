package card

import (
	"bytes"
	"image"
	"image/color"
	"math/rand/v2"
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
