package card

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/math/fixed"

	"printstation/card/sample"
)

// alphaAt reads a glyph's mask over its box as a byte slice, row by row.
func maskBytes(dr image.Rectangle, mask image.Image, mp image.Point) []byte {
	var out []byte
	for y := range dr.Dy() {
		for x := range dr.Dx() {
			_, _, _, a := mask.At(mp.X+x, mp.Y+y).RGBA()
			out = append(out, uint8(a>>8))
		}
	}
	return out
}

// TestGlyphCacheIsFace: for every embedded font at whole and fractional
// sizes, for letters, digits, punctuation, accented and missing runes, at
// dots anywhere (negative too) and at every 1/64 of a pixel, a glyph from
// the kept masks — the first time and again — has the face's own box,
// mask, advance and answer.
func TestGlyphCacheIsFace(t *testing.T) {
	defer func() { cacheGlyphs = true }()
	r := rand.New(rand.NewPCG(18, 64))
	runes := []rune("AZaz09/.:-ÉÀñ ßŁ\u4e00")
	for id := range numFonts {
		for _, size := range []float64{14, 22, 22.5, 40} {
			face, err := newFace(id, size)
			if err != nil {
				t.Fatal(err)
			}
			gf := glyphFace{id, size}
			for i := range 400 {
				c := runes[r.IntN(len(runes))]
				dot := fixed.Point26_6{X: fixed.Int26_6(r.IntN(80000) - 10000), Y: fixed.Int26_6(r.IntN(50000) - 8000)}
				if i < 64 {
					dot.X = fixed.Int26_6(300*64 + i) // every fraction
				}
				cacheGlyphs = false
				wdr, wm, wmp, wadv, wok := face.Glyph(dot, c)
				var want []byte
				if !wdr.Empty() {
					want = maskBytes(wdr, wm, wmp)
				}
				cacheGlyphs = true
				for round := range 2 {
					dr, m, mp, adv, ok := glyph(face, gf, dot, c)
					if dr != wdr || adv != wadv || ok != wok {
						t.Fatalf("font %d size %v %q at %v (call %d): box %v advance %v ok %v, face %v %v %v", id, size, c, dot, round, dr, adv, ok, wdr, wadv, wok)
					}
					if !dr.Empty() && !bytes.Equal(maskBytes(dr, m, mp), want) {
						t.Fatalf("font %d size %v %q at %v (call %d): mask differs from the face's", id, size, c, dot, round)
					}
				}
			}
		}
	}
}

// TestGlyphCacheSameCard: whole demo cards, several jobs (the cache warm
// from the ones before), byte-equal with and without the kept masks.
func TestGlyphCacheSameCard(t *testing.T) {
	defer func() { cacheGlyphs = true }()
	for seed := range 4 {
		f := sample.Fields()
		f["nama"] = []string{"SITI AMINAH", "BUDI SANTOSO WIJAYA", "I GUSTI NGURAH RAI", "Ñ É ß"}[seed]
		var pix [2][2][]byte
		for i, cached := range []bool{false, true} {
			cacheGlyphs = cached
			c, k, err := Render(DemoTemplate(), f, sample.Photo(seed), sample.Signature(seed))
			if err != nil {
				t.Fatal(err)
			}
			pix[i] = [2][]byte{c.Pix, k.Pix}
		}
		if !bytes.Equal(pix[0][0], pix[1][0]) || !bytes.Equal(pix[0][1], pix[1][1]) {
			t.Fatalf("job %d: the card differs with the kept glyph masks", seed)
		}
	}
}
