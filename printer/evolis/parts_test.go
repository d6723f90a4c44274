package evolis

import (
	"bytes"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	"printstation/printer/raster"
)

// TestBitmapPartsAreBitmap: what Print writes part after part is, byte for
// byte, the one-piece panel download Bitmap builds, for Db and Dbc panels
// of several cards in turn (the Dbc buffer is reused from panel to panel).
func TestBitmapPartsAreBitmap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(18, 3))
	for c := 0; c < 3; c++ {
		img := image.NewRGBA(image.Rect(0, 0, raster.Width, raster.Height))
		k := image.NewGray(img.Rect)
		for i := range img.Pix {
			img.Pix[i] = byte(rnd.IntN(256))
		}
		// Black text-like areas, blank lines and full lines on K.
		for y := 0; y < raster.Height; y++ {
			for x := 0; x < raster.Width; x++ {
				switch {
				case y%97 < 20 && x < 300+c*100:
					k.SetGray(x, y, color.Gray{0})
				case y%97 < 25:
					k.SetGray(x, y, color.Gray{0})
				default:
					k.SetGray(x, y, color.Gray{255})
				}
			}
		}
		for _, levels := range []int{32, 64} {
			ps, err := raster.Convert(img, k, raster.Options{Levels: levels})
			if err != nil {
				t.Fatal(err)
			}
			for _, compress := range []bool{false, true} {
				d := &Driver{compress: compress}
				for _, p := range ps.List() {
					want := Bitmap(p, compress)
					got := bytes.Join(d.bitmapParts(p), nil)
					if !bytes.Equal(got, want) {
						t.Errorf("card %d, %d levels, compress %v, panel %c: parts differ from Bitmap (%d against %d bytes)", c, levels, compress, p.Name, len(got), len(want))
					}
				}
			}
		}
	}
}
