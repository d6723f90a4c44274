package jobqueue_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"testing"

	"printstation/card"
	"printstation/jobqueue"
	"printstation/sim/central"
	"printstation/sim/central/imgenc"
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
// template mode (fields + photo + signature + chip, signed), each form
// built from the same people in the same run:
//
//   - webp: as the centre sends it now — JWS JSON form, payload unencoded
//     (RFC 7797), photo and signature image WebP lossless;
//   - png: the same with the same pixels as PNG (the form before);
//   - compact: PNG images and a compact JWS (the payload base64url-encoded
//     around its base64 images: the form before that);
//   - rendered: a job that carries a pre-rendered 1016x648 card image (PNG,
//     and WebP lossless) plus the same chip data instead of fields, photo
//     and signature.
//
// It also reports each form's incompressible part (photo + signature image
// + chip data, raw bytes): the floor no envelope encoding gets under.
func BenchmarkWireBytesPerJob(b *testing.B) {
	f := &fixture{key: seedKey(1), kid: "issuer-2026-1"}
	tmpl, err := card.Parse(card.DemoTemplateJSON())
	if err != nil {
		b.Fatal(err)
	}
	var webpBytes, webpRaw, pngBytes, compactBytes, cardBytes, cardWebPBytes, webpFloor, pngFloor, webpImg, pngImg int
	var page []string // the first 20 WebP envelopes: one feed page
	floor := func(p *jobqueue.Payload) int {
		n := len(p.Photo) + len(p.Signature)
		for _, cf := range p.Chip.Files {
			n += len(cf.Data)
		}
		return n
	}
	for i := 0; i < b.N; i++ {
		spec := f.spec(i%20 + 1)
		p := spec.Payload() // PNG images
		w := *p
		if w.Photo, err = imgenc.Reencode(p.Photo, imgenc.WebP); err != nil {
			b.Fatal(err)
		}
		if w.Signature, err = imgenc.Reencode(p.Signature, imgenc.WebP); err != nil {
			b.Fatal(err)
		}
		jws, err := central.Sign(f.key, f.kid, &w)
		if err != nil {
			b.Fatal(err)
		}
		webpRaw += len(jws)
		if len(page) < 20 {
			page = append(page, jws)
		}
		webpBytes += feedBytes(jws)
		webpFloor += floor(&w)
		webpImg += len(w.Photo) + len(w.Signature)

		pjws, err := central.Sign(f.key, f.kid, p)
		if err != nil {
			b.Fatal(err)
		}
		pngBytes += feedBytes(pjws)
		pngFloor += floor(p)
		pngImg += len(p.Photo) + len(p.Signature)

		raw, _ := json.Marshal(p)
		cjws, err := central.SignCompact(f.key, f.kid, raw)
		if err != nil {
			b.Fatal(err)
		}
		compactBytes += feedBytes(cjws)

		color, _, err := card.Render(tmpl, w.Fields, w.Photo, w.Signature)
		if err != nil {
			b.Fatal(err)
		}
		var img bytes.Buffer
		if err := png.Encode(&img, color); err != nil {
			b.Fatal(err)
		}
		// The baseline job: the same envelope but the image instead of
		// fields, photo and signature; and the same card as WebP lossless,
		// so that the baseline gets the same encoder as the template job.
		cardWebP, err := imgenc.Encode(color, imgenc.WebP)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []struct {
			name string
			img  []byte
			sum  *int
		}{{"card_png", img.Bytes(), &cardBytes}, {"card_webp", cardWebP, &cardWebPBytes}} {
			base := *p
			base.Fields, base.Photo, base.Signature = map[string]string{c.name: base64.StdEncoding.EncodeToString(c.img)}, nil, nil
			braw, _ := json.Marshal(base)
			bjws, err := central.SignRaw(f.key, f.kid, braw)
			if err != nil {
				b.Fatal(err)
			}
			*c.sum += feedBytes(bjws)
		}
	}
	n := float64(b.N)
	// The centre sends up to a page of jobs in one gzip'd answer; what
	// repeats from job to job (field names, header, template) then costs
	// once a page.
	inPage := 0.0
	if len(page) == 20 {
		pb, _ := json.Marshal(page)
		inPage = float64(gz(pb)) / 20
		b.ReportMetric(inPage, "webp-in-page-of-20-B/job")
	}
	b.ReportMetric(float64(webpBytes)/n, "webp-B/job")
	b.ReportMetric(float64(pngBytes)/n, "png-B/job")
	b.ReportMetric(float64(compactBytes)/n, "compact-png-B/job")
	b.ReportMetric(float64(cardBytes)/n, "rendered-B/job")
	b.ReportMetric(float64(webpBytes)/float64(pngBytes), "webp/png")
	b.ReportMetric(float64(webpBytes)/float64(compactBytes), "webp/compact")
	b.ReportMetric(float64(cardBytes)/float64(webpBytes), "rendered/webp")
	b.ReportMetric(float64(cardWebPBytes)/n, "rendered-webp-B/job")
	b.ReportMetric(float64(cardWebPBytes)/float64(webpBytes), "rendered-webp/webp")
	b.ReportMetric(float64(webpRaw)/n, "webp-raw-B/job")
	b.ReportMetric(float64(webpFloor)/n, "webp-images+chip-B/job")
	b.ReportMetric(float64(pngFloor)/n, "png-images+chip-B/job")
	b.ReportMetric(float64(gz(card.DemoTemplateJSON())), "template-once-B")
	if b.N == 1 {
		return // the probe run: the table comes from the real one
	}
	b.Logf("bytes on the wire per job (gzip'd feed, mean of %d jobs, same run):\n"+
		"  WebP lossless, JSON JWS (now)   %6.0f  (images %5.0f, images+chip %5.0f)  target ≤ 25000: %s\n"+
		"  … the same in a page of 20      %6.0f  (0 when fewer than 20 jobs ran)\n"+
		"  PNG, JSON JWS (before)          %6.0f  (images %5.0f, images+chip %5.0f)  webp/png %.3f\n"+
		"  PNG, compact JWS (before that)  %6.0f  webp/compact %.3f\n"+
		"  pre-rendered card PNG + chip    %6.0f  rendered/webp %.2f\n"+
		"  … the card as WebP lossless     %6.0f  rendered/webp %.2f",
		b.N, float64(webpBytes)/n, float64(webpImg)/n, float64(webpFloor)/n, passFail(float64(webpBytes)/n <= 25000),
		inPage,
		float64(pngBytes)/n, float64(pngImg)/n, float64(pngFloor)/n, float64(webpBytes)/float64(pngBytes),
		float64(compactBytes)/n, float64(webpBytes)/float64(compactBytes),
		float64(cardBytes)/n, float64(cardBytes)/float64(webpBytes),
		float64(cardWebPBytes)/n, float64(cardWebPBytes)/float64(webpBytes))
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
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
