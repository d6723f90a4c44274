package card_test

import (
	"bytes"
	"image"
	"testing"
	"time"

	"printstation/card"
	"printstation/internal/benchcpu"
	"printstation/sim/central"
	"printstation/sim/central/imgenc"
)

// BenchmarkRenderCentreJobWebP: card.Render of the demo card from centre
// jobs as the station receives them (photo and signature WebP lossless:
// an opaque NRGBA photo and a grey NRGBA signature), twenty different
// jobs in turn, the fourth pass's photo scaler against this one,
// alternated call by call (the rest of the render is the same code).
func BenchmarkRenderCentreJobWebP(b *testing.B) {
	defer card.SetScalerPrevious(false)
	tpl := card.DemoTemplate()
	type job struct {
		fields           map[string]string
		photo, signature []byte
	}
	webp := func(png []byte) []byte {
		img, _, err := image.Decode(bytes.NewReader(png))
		if err != nil {
			b.Fatal(err)
		}
		out, err := imgenc.Encode(img, imgenc.WebP)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	var jobs []job
	for seed := range uint64(20) {
		p := central.JobSpec{Station: "ST-BENCH-01", JobID: "J-1", Seed: seed, Issued: time.Now()}.Payload()
		jobs = append(jobs, job{p.Fields, webp(p.Photo), webp(p.Signature)})
	}
	n := 0
	render := func() {
		j := jobs[n/2%len(jobs)] // the same job for before and now
		n++
		if _, _, err := card.Render(tpl, j.fields, j.photo, j.signature); err != nil {
			b.Fatal(err)
		}
	}
	benchcpu.Compare(b, []string{"prev", "now"},
		func() { card.SetScalerPrevious(true); render(); card.SetScalerPrevious(false) },
		render)
}
