package jobqueue_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"testing"

	"printstation/card"
	"printstation/sim/central"
)

func gz(b []byte) int {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Len()
}

// BenchmarkWireBytesPerJob compares what one job costs on the slow link in
// template mode (fields + photo + signature + chip, signed) against a job
// that carries a pre-rendered 1016x648 card image (PNG) plus the same chip
// data. Both measured gzip-compressed, as the centre sends them.
func BenchmarkWireBytesPerJob(b *testing.B) {
	f := &fixture{key: seedKey(1), kid: "issuer-2026-1"}
	tmpl, err := card.Parse(card.DemoTemplateJSON())
	if err != nil {
		b.Fatal(err)
	}
	var tmplBytes, cardBytes, tmplRaw int
	for i := 0; i < b.N; i++ {
		spec := f.spec(i%20 + 1)
		p := spec.Payload()
		jws, err := central.Sign(f.key, f.kid, p)
		if err != nil {
			b.Fatal(err)
		}
		tmplRaw += len(jws)
		tmplBytes += gz([]byte(jws))

		color, _, err := card.Render(tmpl, p.Fields, p.Photo, p.Signature)
		if err != nil {
			b.Fatal(err)
		}
		var img bytes.Buffer
		if err := png.Encode(&img, color); err != nil {
			b.Fatal(err)
		}
		// The baseline job: the same envelope but the image instead of
		// fields, photo and signature.
		base := *p
		base.Fields, base.Photo, base.Signature = map[string]string{"card_png": base64.StdEncoding.EncodeToString(img.Bytes())}, nil, nil
		raw, _ := json.Marshal(base)
		bjws, err := central.SignRaw(f.key, f.kid, raw)
		if err != nil {
			b.Fatal(err)
		}
		cardBytes += gz([]byte(bjws))
	}
	b.ReportMetric(float64(tmplBytes)/float64(b.N), "template-B/job")
	b.ReportMetric(float64(tmplRaw)/float64(b.N), "template-raw-B/job")
	b.ReportMetric(float64(cardBytes)/float64(b.N), "rendered-png-B/job")
	b.ReportMetric(float64(cardBytes)/float64(tmplBytes), "ratio")
	b.ReportMetric(float64(gz(card.DemoTemplateJSON())), "template-once-B")
}

// BenchmarkAddJob is verification (Ed25519, all checks) plus the encrypted,
// durable insert (synchronous=FULL, one transaction per job).
func BenchmarkAddJob(b *testing.B) {
	f := newFixture(b)
	envs := make([]string, b.N)
	for i := range envs {
		envs[i] = f.sign(b, f.spec(i+1).Payload())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.q.Add(f.ctx, envs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkAddPage stores jobs 20 to a transaction, as the syncer does.
func BenchmarkAddPage(b *testing.B) {
	f := newFixture(b)
	envs := make([]string, b.N)
	for i := range envs {
		envs[i] = f.sign(b, f.spec(i+1).Payload())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += 20 {
		if _, err := f.q.AddPage(f.ctx, envs[i:min(i+20, b.N)], nil, "jobs", "c"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkVerify is the signature and checks alone.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	env := f.sign(b, f.spec(1).Payload())
	v := &verifierFor{f}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := v.verify(env); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
