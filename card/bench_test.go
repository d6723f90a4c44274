package card_test

import (
	"testing"
	"time"

	"printstation/card"
	"printstation/card/sample"
	"printstation/internal/benchcpu"
	"printstation/jobqueue"
	"printstation/sim/central"
)

// BenchmarkRenderDemo is the figure that matters: one e-KTP card, colour and
// K panels, from fields, JPEG photo and PNG signature.
func BenchmarkRenderDemo(b *testing.B) {
	tpl := card.DemoTemplate()
	f, p, s := sample.Fields(), sample.Photo(1), sample.Signature(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := card.Render(tpl, f, p, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderBackground is the baseline: a card that is only its
// gradient (allocating and filling 1016 × 648 pixels).
func BenchmarkRenderBackground(b *testing.B) {
	tpl, err := card.Parse([]byte(`{"version": 1, "id": "bg", "background": {"gradient": {"from": "#d2eaf8", "to": "#d9f1d3", "direction": "diagonal"}},
		"elements": [{"type": "rect", "name": "dot", "x": 0, "y": 0, "w": 1, "h": 1, "fill": "#000000"}]}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := card.Render(tpl, nil, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDemo(b *testing.B) {
	j := card.DemoTemplateJSON()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := card.Parse(j); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComposite(b *testing.B) {
	col, blk := renderDemo(b)
	b.ReportAllocs()
	for b.Loop() {
		card.Composite(col, blk)
	}
}

// BenchmarkRenderCentreJob: the demo card from jobs of the centre's kind
// (sim/central: a 240 × 320 photo and a grey signature, PNG; the server
// sends the same pixels as WebP lossless), a hundred different jobs in
// turn, against the code before the fourth pass (x/image's photo scaler,
// the frame rasterized on every card, glyphs rasterized on every card and
// composited in 16-bit arithmetic pixel by pixel), alternated call by call
// (thread CPU time, medians).
func BenchmarkRenderCentreJob(b *testing.B) {
	defer card.SetPrevious(false)
	tpl := card.DemoTemplate()
	// A hundred different people in turn, as a batch has: the kept glyph
	// masks see new names, not the same one again.
	var jobs []*jobqueue.Payload
	for seed := range uint64(100) {
		jobs = append(jobs, central.JobSpec{Station: "ST-BENCH-01", JobID: "J-1", Seed: seed, Issued: time.Now()}.Payload())
	}
	n := 0
	render := func() {
		p := jobs[n/2%len(jobs)] // the same job for before and now
		n++
		if _, _, err := card.Render(tpl, p.Fields, p.Photo, p.Signature); err != nil {
			b.Fatal(err)
		}
	}
	benchcpu.Compare(b, []string{"before", "now"},
		func() { card.SetPrevious(true); render(); card.SetPrevious(false) },
		render)
}
