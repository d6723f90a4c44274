package raster

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"sync"
	"testing"

	"printstation/card"
	"printstation/card/sample"
	"printstation/internal/benchcpu"
)

// overCase is a card drawn over a static image: the card is a copy of the
// base with some dots changed.
func overCard(r *rand.Rand, base *image.RGBA, baseK *image.Gray) (*image.RGBA, *image.Gray) {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	for y := range Height {
		copy(img.Pix[y*img.Stride:y*img.Stride+4*Width], base.Pix[base.PixOffset(base.Rect.Min.X, base.Rect.Min.Y+y):])
	}
	var k *image.Gray
	if baseK != nil {
		k = image.NewGray(image.Rect(0, 0, Width, Height))
		copy(k.Pix, baseK.Pix)
	}
	// Single dots anywhere, including the corners and edges of the card
	// and of tiles, on either layer.
	spots := []image.Point{{0, 0}, {Width - 1, 0}, {0, Height - 1}, {Width - 1, Height - 1}, {7, 8}, {8, 7}}
	for range 40 {
		spots = append(spots, image.Pt(r.IntN(Width), r.IntN(Height)))
	}
	for _, p := range spots[:r.IntN(len(spots))+1] {
		if k != nil && r.IntN(3) == 0 {
			k.Pix[k.PixOffset(p.X, p.Y)] = uint8(r.IntN(256))
			continue
		}
		o := img.PixOffset(p.X, p.Y)
		a := uint8(255)
		if r.IntN(5) == 0 {
			a = uint8(r.IntN(256))
		}
		img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(r.IntN(int(a)+1)), uint8(r.IntN(int(a)+1)), uint8(r.IntN(int(a)+1)), a
	}
	// A few blocks, as a photo or a field's text would be.
	for range r.IntN(4) {
		x0, y0 := r.IntN(Width), r.IntN(Height)
		x1, y1 := min(Width, x0+1+r.IntN(250)), min(Height, y0+1+r.IntN(120))
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				if k != nil && r.IntN(2) == 0 {
					k.Pix[k.PixOffset(x, y)] = uint8(r.IntN(256))
				} else {
					o := img.PixOffset(x, y)
					img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255
				}
			}
		}
	}
	return img, k
}

func samePanels(t *testing.T, name string, got, want *Panels) {
	t.Helper()
	gl, wl := got.List(), want.List()
	if len(gl) != len(wl) {
		t.Fatalf("%s: %d panels, Convert %d", name, len(gl), len(wl))
	}
	for i := range gl {
		if gl[i].Name != wl[i].Name || gl[i].Levels != wl[i].Levels || !bytes.Equal(gl[i].Data, wl[i].Data) {
			n := 0
			for j := range gl[i].Data {
				if j < len(wl[i].Data) && gl[i].Data[j] != wl[i].Data[j] {
					n++
				}
			}
			t.Errorf("%s: panel %c differs from Convert (%d bytes)", name, gl[i].Name, n)
		}
	}
}

// TestConvertOverIsConvert: for random cards drawn over two different
// static images (two templates), alternating, under every level count,
// ribbon, rotation, black layer or threshold and bare overlay areas, the
// tile-wise conversion writes Convert's bytes.
func TestConvertOverIsConvert(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 1))
	baseA, kA := noisy(3) // a base not at the origin of its pixel slice
	baseB, kB := noisy(4)
	// As a template's K layer is: mostly no resin, some labels.
	for _, k := range []*image.Gray{kA, kB} {
		for i := range k.Pix {
			if x, y := i%Width, i/Width; (x/40+y/24)%5 != 0 {
				k.Pix[i] = 255
			}
		}
	}
	bare := []image.Rectangle{image.Rect(100, 200, 300, 260), image.Rect(-10, 600, 40, 700)}
	opts := []Options{
		{}, {Levels: 64}, {Levels: 128}, {Ribbon: "ymck"}, {Ribbon: "ko", NoVarnish: bare}, {Ribbon: "k"},
		{Rotate180: true, NoVarnish: bare}, {Rotate180: true, Levels: 128, BlackThreshold: 90},
		{BlackThreshold: 90, Levels: 64},
	}
	i := 0
	for _, opt := range opts {
		// Several cards per options, over the two bases in turn: the
		// kept conversions are reused, and must be those of the right
		// base.
		for j := range 6 {
			base, bk := baseA, kA
			if j%2 == 1 {
				base, bk = baseB, kB
			}
			if j >= 4 {
				bk = nil // a template without K
			}
			img, k := overCard(r, base, bk)
			var black image.Image
			if k != nil {
				black = k
			}
			got, err := ConvertOver(img, black, base, bk, opt)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Convert(img, black, opt)
			if err != nil {
				t.Fatal(err)
			}
			samePanels(t, fmt.Sprintf("case %d %+v base %c K %v", i, opt, "AB"[j%2], bk != nil), got, want)
			i++
		}
		// A base itself, unchanged: every tile copied.
		got, _ := ConvertOver(baseA, kA, baseA, kA, opt)
		want, _ := Convert(baseA, kA, opt)
		samePanels(t, fmt.Sprintf("base %+v", opt), got, want)
	}
}

// TestConvertOverDemoCards: real demo cards over the demo template's
// static layers, as the engine converts them.
func TestConvertOverDemoCards(t *testing.T) {
	tpl := card.DemoTemplate()
	bc, bk := card.StaticLayers(tpl)
	for seed := range 3 {
		col, blk, err := card.Render(tpl, sample.Fields(), sample.Photo(seed), sample.Signature(seed))
		if err != nil {
			t.Fatal(err)
		}
		for _, opt := range []Options{{}, {Ribbon: "ko"}, {Rotate180: true, Levels: 64}} {
			got, err := ConvertOver(col, blk, bc, bk, opt)
			isConvert(t, fmt.Sprintf("demo %d %+v", seed, opt), got, err, col, blk, opt)
		}
	}
}

// isConvert fails the test unless got (and no error) is Convert's result
// for the card.
func isConvert(t *testing.T, name string, got *Panels, err error, col *image.RGBA, blk *image.Gray, opt Options) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var black image.Image
	if blk != nil {
		black = blk
	}
	want, err := Convert(col, black, opt)
	if err != nil {
		t.Fatal(err)
	}
	samePanels(t, name, got, want)
}

// TestConvertOverRefusesWhatConvertRefuses: the errors are Convert's.
func TestConvertOverRefusesWhatConvertRefuses(t *testing.T) {
	base := image.NewRGBA(image.Rect(0, 0, Width, Height))
	for _, c := range []struct {
		img image.Image
		opt Options
	}{
		{image.NewRGBA(image.Rect(0, 0, Height, Width)), Options{}},
		{image.NewRGBA(image.Rect(0, 0, Width, Height)), Options{Levels: 2}},
		{image.NewRGBA(image.Rect(0, 0, Width, Height)), Options{Levels: 33, Ribbon: "k"}},
		{image.NewRGBA(image.Rect(0, 0, Width, Height)), Options{Ribbon: "kw"}},
	} {
		_, werr := Convert(c.img, nil, c.opt)
		_, gerr := ConvertOver(c.img, nil, base, nil, c.opt)
		if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
			t.Errorf("%+v: ConvertOver says %v, Convert %v", c.opt, gerr, werr)
		}
	}
}

// BenchmarkConvertOverDemo: the demo card's side converted over the
// template's static layers against converted whole (Convert), alternated
// call by call; CPU time of the calling thread, medians.
func BenchmarkConvertOverDemo(b *testing.B) {
	tpl := card.DemoTemplate()
	bc, bk := card.StaticLayers(tpl)
	col, blk, err := card.Render(tpl, sample.Fields(), sample.Photo(1), sample.Signature(1))
	if err != nil {
		b.Fatal(err)
	}
	run := func() {
		if _, err := ConvertOver(col, blk, bc, bk, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	benchcpu.Compare(b, []string{"whole", "over"}, func() {
		overOnly = false
		run()
		overOnly = true
	}, run)
}

// TestConvertOverConcurrent: four printers' workers converting at once
// over one static image, the first conversion of it among them.
func TestConvertOverConcurrent(t *testing.T) {
	tpl := card.DemoTemplate()
	bc, bk := card.StaticLayers(tpl)
	opt := Options{Levels: 64, Rotate180: true} // options no other test kept
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			col, blk, err := card.Render(tpl, sample.Fields(), sample.Photo(i), sample.Signature(i))
			if err != nil {
				errs[i] = err
				return
			}
			got, err := ConvertOver(col, blk, bc, bk, opt)
			if err != nil {
				errs[i] = err
				return
			}
			want, _ := Convert(col, blk, opt)
			for j, p := range got.List() {
				if !bytes.Equal(p.Data, want.List()[j].Data) {
					errs[i] = fmt.Errorf("panel %c differs from Convert", p.Name)
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
}

// onlyIn puts the base back everywhere outside regions: a card as a
// template with those varying regions draws it.
func onlyIn(img *image.RGBA, k *image.Gray, base *image.RGBA, baseK *image.Gray, regions []image.Rectangle) {
	for y := range Height {
		for x := range Width {
			in := false
			for _, r := range regions {
				in = in || image.Pt(x, y).In(r)
			}
			if in {
				continue
			}
			copy(img.Pix[img.PixOffset(x, y):][:4], base.Pix[base.PixOffset(base.Rect.Min.X+x, base.Rect.Min.Y+y):][:4])
			if k != nil {
				k.Pix[k.PixOffset(x, y)] = baseK.Pix[baseK.PixOffset(baseK.Rect.Min.X+x, baseK.Rect.Min.Y+y)]
			}
		}
	}
}

// TestConvertOverIntoIsConvert: card after card into one Reuse — over two
// static images with their own varying regions in turn, options changing
// between cards, regions on and off tile edges, a card that changes every
// masked tile followed by one that changes none — each result is
// Convert's bytes. Without putting the previous card's tiles back, a card
// keeps the dots of the one before it where it equals the base (tried:
// the test fails).
func TestConvertOverIntoIsConvert(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 4))
	baseA, kA := noisy(5)
	baseB, kB := noisy(6)
	for _, k := range []*image.Gray{kA, kB} {
		for i := range k.Pix {
			if x, y := i%Width, i/Width; (x/40+y/24)%5 != 0 {
				k.Pix[i] = 255
			}
		}
	}
	regA := []image.Rectangle{image.Rect(770, 124, 970, 374), image.Rect(30, 100, 613, 141), image.Rect(0, 600, 13, 648)}
	regB := []image.Rectangle{image.Rect(5, 5, 300, 90), image.Rect(1000, 10, 1016, 640)}
	opts := []Options{{}, {}, {Levels: 64}, {Rotate180: true, Levels: 128}, {Ribbon: "k"}, {}, {BlackThreshold: 90}}
	var reuse Reuse
	for i := range 40 {
		opt := opts[i%len(opts)]
		base, bk, reg := baseA, kA, regA
		switch i % 5 {
		case 2:
			base, bk, reg = baseB, kB, regB
		case 4:
			reg = nil // anywhere
		}
		if opt.Ribbon == "k" || opt.BlackThreshold > 0 {
			bk = nil
		}
		img, k := overCard(r, base, bk)
		if i%7 == 3 { // every masked dot changed: every masked tile redone
			for y := range Height {
				for x := range Width {
					o := img.PixOffset(x, y)
					img.Pix[o] ^= 0x55
				}
			}
		}
		if i%7 == 4 { // the base itself: every tile of the last card put back
			img, k = overCard(r, base, bk)
			onlyIn(img, k, base, bk, []image.Rectangle{})
		} else if reg != nil {
			onlyIn(img, k, base, bk, reg)
		}
		var black image.Image
		if k != nil {
			black = k
		}
		got, err := ConvertOverInto(&reuse, img, black, base, bk, reg, opt)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Convert(img, black, opt)
		if err != nil {
			t.Fatal(err)
		}
		samePanels(t, fmt.Sprintf("card %d %+v regions %v", i, opt, reg), got, want)
	}
}

// TestConvertOverIntoDemoCards: demo cards rendered on one card.Canvas
// and converted into one Reuse, as the engine does, against Convert.
func TestConvertOverIntoDemoCards(t *testing.T) {
	tpl := card.DemoTemplate()
	bc, bk := card.StaticLayers(tpl)
	var cv card.Canvas
	var reuse Reuse
	long := sample.Fields()
	long["nama"] = "SITI NURHALIZA RAHMAWATI BINTI ABDULLAH SYAH"
	for seed := range 6 {
		f := sample.Fields()
		if seed%2 == 0 {
			f = long
		}
		col, blk, err := cv.Render(tpl, f, sample.Photo(seed), sample.Signature(seed))
		if err != nil {
			t.Fatal(err)
		}
		opt := []Options{{}, {}, {Ribbon: "ko"}, {}, {Rotate180: true, Levels: 64}, {}}[seed]
		got, err := ConvertOverInto(&reuse, col, blk, bc, bk, cv.Drawn(), opt)
		isConvert(t, fmt.Sprintf("demo %d %+v", seed, opt), got, err, col, blk, opt)
	}
}

// TestConvertOverIntoKAfterColour: a tile the previous card coloured and
// this card leaves in the base's colour with new resin on it (a K-only
// tile, redone from the static bytes): it must not keep the previous
// card's colour. Without putting that tile back first it does (tried).
func TestConvertOverIntoKAfterColour(t *testing.T) {
	base, bk := noisy(7)
	for i := range bk.Pix {
		bk.Pix[i] = 255 // no resin on the template
	}
	block := image.Rect(200, 200, 264, 248)
	colour := func() (*image.RGBA, *image.Gray) {
		img, k := overCard(rand.New(rand.NewPCG(1, 1)), base, bk)
		onlyIn(img, k, base, bk, []image.Rectangle{})
		for y := block.Min.Y; y < block.Max.Y; y++ {
			for x := block.Min.X; x < block.Max.X; x++ {
				o := img.PixOffset(x, y)
				img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = 10, 200, 90, 255
			}
		}
		return img, k
	}
	resin := func() (*image.RGBA, *image.Gray) {
		img, k := overCard(rand.New(rand.NewPCG(1, 1)), base, bk)
		onlyIn(img, k, base, bk, []image.Rectangle{})
		for y := block.Min.Y; y < block.Max.Y; y += 3 {
			for x := block.Min.X; x < block.Max.X; x++ {
				k.Pix[k.PixOffset(x, y)] = 0
			}
		}
		return img, k
	}
	var reuse Reuse
	for i, mk := range []func() (*image.RGBA, *image.Gray){colour, resin, colour, resin} {
		img, k := mk()
		got, err := ConvertOverInto(&reuse, img, k, base, bk, []image.Rectangle{block}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := Convert(img, k, Options{})
		if err != nil {
			t.Fatal(err)
		}
		samePanels(t, fmt.Sprintf("card %d", i), got, want)
	}
}
