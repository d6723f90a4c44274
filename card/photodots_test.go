package card_test

import (
	"testing"
	"time"

	"printstation/card"
	"printstation/printer/raster"
	"printstation/sim/central"
)

// TestFixedScalerPrintedDots counts, on demo cards from jobs of the
// centre's kind, the printed points the fixed-point photo scaler changes
// against x/image's CatmullRom once the card is rasterized, at every level
// count; a point is changed when any panel's value there differs. The
// photo is 188 × 250 = 47 000 dots of the card; at most 1 in 1000 of them
// may change (measured: see the log and docs/bench/station.md).
func TestFixedScalerPrintedDots(t *testing.T) {
	defer card.SetFixedScaler(true)
	tpl := card.DemoTemplate()
	const photoDots = 188 * 250
	for _, levels := range []int{32, 64, 128} {
		changed, cards := 0, 0
		for seed := range uint64(8) {
			p := central.JobSpec{Station: "ST-1", JobID: "J-1", Seed: seed, Issued: time.Unix(0, 0)}.Payload()
			convert := func(fixed bool) *raster.Panels {
				card.SetFixedScaler(fixed)
				col, blk, err := card.Render(tpl, p.Fields, p.Photo, p.Signature)
				if err != nil {
					t.Fatal(err)
				}
				ps, err := raster.Convert(col, blk, raster.Options{Levels: levels})
				if err != nil {
					t.Fatal(err)
				}
				return ps
			}
			a, b := convert(false), convert(true)
			// Only lines with a differing byte can hold a changed point.
			lines := map[int]bool{}
			for i, pa := range a.List() {
				pb, lb := b.List()[i], pa.LineBytes()
				for j := range pa.Data {
					if pa.Data[j] != pb.Data[j] {
						lines[j/lb] = true
					}
				}
			}
			for n := range lines {
				for pt := range raster.Points {
					for i, pa := range a.List() {
						if pa.At(n, pt) != b.List()[i].At(n, pt) {
							changed++
							break
						}
					}
				}
			}
			cards++
		}
		t.Logf("%d levels: %d printed dots changed over %d cards (%.3g of the photo's dots)", levels, changed, cards, float64(changed)/float64(cards*photoDots))
		if changed*1000 > cards*photoDots {
			t.Errorf("%d levels: %d dots changed over %d cards: more than 1 in 1000 of the photo's", levels, changed, cards)
		}
	}
}
