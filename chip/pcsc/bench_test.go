package pcsc_test

import (
	"testing"

	"printstation/chip"
	"printstation/chip/chiptest"
	"printstation/sim/chip/vicc"
)

// BenchmarkPersonalize8K writes and verifies 8 KiB over four files: the
// software card (short and extended APDUs) is the baseline for the real
// PC/SC stack with vicc. Reported: apdus/op and ms/op.
func BenchmarkPersonalize8K(b *testing.B) {
	p := profile8K()
	for _, tc := range []struct {
		name string
		cfg  chiptest.Config
	}{
		{"software-short", chiptest.Config{UID: []byte{1, 2, 3, 4}}},
		{"software-extended", chiptest.Config{UID: []byte{1, 2, 3, 4}, Extended: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := chiptest.NewReader()
			e := r.Encoder()
			apdus := 0
			for b.Loop() {
				r.Insert(chiptest.NewCard(tc.cfg)) // a fresh blank each time
				res, err := e.Personalize(b.Context(), p)
				if err != nil {
					b.Fatal(err)
				}
				apdus = res.APDUs
			}
			report(b, apdus)
		})
	}
	for _, tc := range []struct {
		name string
		o    vicc.Options
	}{
		{"vicc-short", vicc.Options{UID: []byte{1, 2, 3, 4}}},
		{"vicc-extended", vicc.Options{UID: []byte{1, 2, 3, 4}, Extended: true}},
	} {
		b.Run(tc.name, func(b *testing.B) { benchVicc(b, tc.o, p) })
	}
}

func benchVicc(b *testing.B, o vicc.Options, p chip.Personalization) {
	e := open(b)
	apdus := 0
	for b.Loop() {
		b.StopTimer()
		c := insert(b, o) // fresh blank, not timed
		b.StartTimer()
		res, err := e.Personalize(opCtx(b), p)
		if err != nil {
			b.Fatal(err)
		}
		apdus = res.APDUs
		b.StopTimer()
		if err := c.Remove(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	report(b, apdus)
}

// BenchmarkVerify8K reads back and compares 8 KiB already on the card.
func BenchmarkVerify8K(b *testing.B) {
	p := profile8K()
	b.Run("software-short", func(b *testing.B) {
		r := chiptest.NewReader()
		r.Insert(chiptest.NewCard(chiptest.Config{}))
		e := r.Encoder()
		if _, err := e.Personalize(b.Context(), p); err != nil {
			b.Fatal(err)
		}
		apdus := 0
		for b.Loop() {
			res, err := e.Verify(b.Context(), p)
			if err != nil {
				b.Fatal(err)
			}
			apdus = res.APDUs
		}
		report(b, apdus)
	})
	b.Run("vicc", func(b *testing.B) {
		e := open(b)
		insert(b, vicc.Options{})
		if _, err := e.Personalize(opCtx(b), p); err != nil {
			b.Fatal(err)
		}
		apdus := 0
		for b.Loop() {
			res, err := e.Verify(opCtx(b), p)
			if err != nil {
				b.Fatal(err)
			}
			apdus = res.APDUs
		}
		report(b, apdus)
	})
}

func report(b *testing.B, apdus int) {
	b.ReportMetric(float64(apdus), "apdus/op")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
}
