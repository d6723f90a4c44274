package raster

import (
	"image"
	"image/color"
	"strings"
	"testing"
)

func blank() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	return img
}

func TestOrientation(t *testing.T) {
	img := blank()
	img.SetRGBA(10, 20, color.RGBA{0, 0xff, 0xff, 0xff}) // pure cyan at x=10, y=20
	black := image.NewGray(image.Rect(0, 0, Width, Height))
	for i := range black.Pix {
		black.Pix[i] = 0xff
	}
	black.SetGray(1000, 640, color.Gray{0})
	ps, err := Convert(img, black, Options{Levels: 32})
	if err != nil {
		t.Fatal(err)
	}
	// line n = image column x, point p = image row 647-y: the card turned
	// 90° clockwise, its bottom edge at point 0 (vendor capture, see the
	// package comment).
	if got := ps.C.At(10, Points-1-20); got != 31 {
		t.Errorf("cyan at line 10 point 627 = %d, want 31", got)
	}
	if got := ps.C.At(10, 20); got != 0 {
		t.Errorf("dot mirrored top to bottom (top edge at point 0): %d", got)
	}
	if got := ps.C.At(20, 10); got != 0 {
		t.Errorf("transposed dot inked: %d", got)
	}
	if ps.M.At(10, Points-1-20) != 0 || ps.Y.At(10, Points-1-20) != 0 {
		t.Errorf("cyan dot put ink in M or Y")
	}
	if ps.K.At(1000, Points-1-640) != 1 || ps.K.At(1000, 640) != 0 {
		t.Errorf("K dot at wrong place")
	}
	rot, _ := Convert(img, black, Options{Levels: 32, Rotate180: true})
	if rot.C.At(Lines-1-10, 20) != 31 || rot.K.At(Lines-1-1000, 640) != 1 {
		t.Errorf("Rotate180 does not turn the card round")
	}
}

func TestPanelSizes(t *testing.T) {
	for _, tc := range []struct{ levels, lineBytes int }{{32, 405}, {64, 486}, {128, 567}} {
		ps, err := Convert(blank(), nil, Options{Levels: tc.levels})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ps.Y.Data); got != tc.lineBytes*1016 {
			t.Errorf("%d levels: Y is %d bytes, want %d", tc.levels, got, tc.lineBytes*1016)
		}
		if len(ps.K.Data) != 82296 || len(ps.O.Data) != 82296 {
			t.Errorf("K/O panels are %d/%d bytes, want 82296", len(ps.K.Data), len(ps.O.Data))
		}
	}
}

func TestPackingMSBFirst(t *testing.T) {
	p, _ := NewPanel('y', 32)
	p.set(5, 0, 0, 0b10110)
	p.set(5, 0, 1, 0b00001)
	if p.Data[0] != 0b10110000 || p.Data[1] != 0b01000000 {
		t.Errorf("packed %08b %08b", p.Data[0], p.Data[1])
	}
	if p.At(0, 0) != 0b10110 || p.At(0, 1) != 1 {
		t.Errorf("At does not read back")
	}
}

func TestNoVarnish(t *testing.T) {
	chip := image.Rect(100, 200, 200, 300)
	ps, err := Convert(blank(), nil, Options{NoVarnish: []image.Rectangle{chip}})
	if err != nil {
		t.Fatal(err)
	}
	if ps.O.At(150, Points-1-250) != 0 {
		t.Errorf("chip area varnished")
	}
	if ps.O.At(99, Points-1-250) != 1 || ps.O.At(500, 500) != 1 {
		t.Errorf("area outside the chip not varnished")
	}
}

func TestRibbons(t *testing.T) {
	for ribbon, want := range map[string]string{"": "ymcko", "ymcko": "ymcko", "ymckok": "ymcko", "ymck": "ymck", "ko": "ko", "k": "k", "kb": "k"} {
		ps, err := Convert(blank(), nil, Options{Ribbon: ribbon})
		if err != nil || ps.Ribbon() != want {
			t.Errorf("ribbon %q: panels %q, %v", ribbon, ps.Ribbon(), err)
		}
	}
}

func TestRefusals(t *testing.T) {
	portrait := image.NewRGBA(image.Rect(0, 0, Height, Width))
	for _, tc := range []struct {
		img  image.Image
		opt  Options
		want string
	}{
		{portrait, Options{}, "portrait"},
		{image.NewRGBA(image.Rect(0, 0, 10, 10)), Options{}, "want 1016×648"},
		{blank(), Options{Levels: 16}, "16 levels"},
		{blank(), Options{Ribbon: "rgb"}, "ribbon"},
		{blank(), Options{Ribbon: "kw"}, "ribbon"},
		{blank(), Options{Levels: 2}, "take 32, 64 or 128 levels"},
		{nil, Options{}, "none given"},
	} {
		_, err := Convert(tc.img, nil, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to say %q", err, tc.want)
		}
	}
}

// The image composed back from the panels matches the source within the
// precision of the levels.
func TestRoundTrip(t *testing.T) {
	img := blank()
	for y := 0; y < Height; y++ {
		for x := 0; x < Width; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x + y), 0xff})
		}
	}
	for _, levels := range []int{32, 64, 128} {
		ps, _ := Convert(img, nil, Options{Levels: levels})
		back := Image(ps, false)
		tol := 255/(levels-1)/2 + 1
		if d := maxDiff(img, back); d > tol {
			t.Errorf("%d levels: max channel difference %d, want ≤ %d", levels, d, tol)
		}
	}
}

func maxDiff(a, b *image.RGBA) int {
	m := 0
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		if d > m {
			m = d
		}
	}
	return m
}

func BenchmarkConvert(b *testing.B) {
	img := blank()
	for y := 0; y < Height; y++ {
		for x := 0; x < Width; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x + y), 0xff})
		}
	}
	for _, levels := range []int{32, 64} {
		b.Run(map[int]string{32: "ymcko-32", 64: "ymcko-64"}[levels], func(b *testing.B) {
			for b.Loop() {
				if _, err := Convert(img, nil, Options{Levels: levels}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
