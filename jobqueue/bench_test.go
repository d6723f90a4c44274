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

// feedBytes is what one envelope costs in the centre's job feed: a JSON
// string in the page's array, the page gzip-compressed (as the centre sends
// it).
func feedBytes(env string) int {
	b, _ := json.Marshal([]string{env})
	return gz(b)
}

// BenchmarkWireBytesPerJob compares what one job costs on the slow link in
// template mode (fields + photo + signature + chip, signed) as the centre
// sends it now — JWS JSON form, payload unencoded (RFC 7797) — against the
// same payload in a compact JWS (the payload base64url-encoded around its
// base64 images: the earlier form, same run) and against a job that carries
// a pre-rendered 1016x648 card image (PNG) plus the same chip data. It also
// reports the payload's incompressible part (photo + signature image + chip
// data, raw bytes): the floor no encoding gets under.
func BenchmarkWireBytesPerJob(b *testing.B) {
	f := &fixture{key: seedKey(1), kid: "issuer-2026-1"}
	tmpl, err := card.Parse(card.DemoTemplateJSON())
	if err != nil {
		b.Fatal(err)
	}
	var tmplBytes, compactBytes, cardBytes, tmplRaw, floor int
	for i := 0; i < b.N; i++ {
		spec := f.spec(i%20 + 1)
		p := spec.Payload()
		jws, err := central.Sign(f.key, f.kid, p)
		if err != nil {
			b.Fatal(err)
		}
		tmplRaw += len(jws)
		tmplBytes += feedBytes(jws)
		raw, _ := json.Marshal(p)
		cjws, err := central.SignCompact(f.key, f.kid, raw)
		if err != nil {
			b.Fatal(err)
		}
		compactBytes += feedBytes(cjws)
		floor += len(p.Photo) + len(p.Signature)
		for _, cf := range p.Chip.Files {
			floor += len(cf.Data)
		}

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
		braw, _ := json.Marshal(base)
		bjws, err := central.SignRaw(f.key, f.kid, braw)
		if err != nil {
			b.Fatal(err)
		}
		cardBytes += feedBytes(bjws)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tmplBytes)/n, "template-B/job")
	b.ReportMetric(float64(tmplRaw)/n, "template-raw-B/job")
	b.ReportMetric(float64(compactBytes)/n, "compact-B/job")
	b.ReportMetric(float64(tmplBytes)/float64(compactBytes), "vs-compact")
	b.ReportMetric(float64(floor)/n, "images+chip-raw-B/job")
	b.ReportMetric(float64(cardBytes)/n, "rendered-png-B/job")
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
