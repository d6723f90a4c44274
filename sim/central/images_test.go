package central_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/draw"
	"image/jpeg"
	"testing"
	"time"

	"printstation/card"
	"printstation/card/sample"
	"printstation/jobqueue"
	"printstation/sim/central"
	"printstation/sim/central/imgenc"
)

// issuedPayload issues one job on a server with these options and returns
// its payload as the feed carries it.
func issuedPayload(t *testing.T, opts central.Options) *jobqueue.Payload {
	t.Helper()
	opts.Dir = t.TempDir()
	s, err := central.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.IssueJobs("ST-3201-01", 1, 1); err != nil {
		t.Fatal(err)
	}
	_, body := do(t, s, "GET", "/v1/stations/ST-3201-01/jobs?wait=0", "", "")
	var page struct{ Jobs []string }
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Jobs) != 1 {
		t.Fatalf("page %q: %v", body, err)
	}
	var env struct{ Payload string }
	if err := json.Unmarshal([]byte(page.Jobs[0]), &env); err != nil {
		t.Fatal(err)
	}
	var p jobqueue.Payload
	if err := json.Unmarshal([]byte(env.Payload), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func pixels(t *testing.T, b []byte) []byte {
	t.Helper()
	img, err := card.DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	n := image.NewNRGBA(img.Bounds())
	draw.Draw(n, n.Bounds(), img, img.Bounds().Min, draw.Src)
	return n.Pix
}

// The centre sends photo and signature as WebP lossless by default and as
// PNG when asked; the pixels are the same, the WebP smaller.
func TestImagesWebPLosslessByDefault(t *testing.T) {
	for _, pool := range []int{0, 3} {
		w := issuedPayload(t, central.Options{PhotoPool: pool})
		p := issuedPayload(t, central.Options{PhotoPool: pool, ImageFormat: imgenc.PNG})
		for _, im := range []struct {
			name       string
			webp, png_ []byte
		}{{"photo", w.Photo, p.Photo}, {"signature", w.Signature, p.Signature}} {
			if string(im.webp[:4]) != "RIFF" || string(im.webp[8:16]) != "WEBPVP8L" {
				t.Errorf("pool %d: %s is not lossless WebP by default: % x", pool, im.name, im.webp[:16])
			}
			if !bytes.HasPrefix(im.png_, []byte("\x89PNG")) {
				t.Errorf("pool %d: %s with ImageFormat png is not PNG", pool, im.name)
			}
			if !bytes.Equal(pixels(t, im.webp), pixels(t, im.png_)) {
				t.Errorf("pool %d: %s pixels differ between WebP and PNG", pool, im.name)
			}
			if len(im.webp) >= len(im.png_) {
				t.Errorf("pool %d: %s WebP %d bytes, PNG %d", pool, im.name, len(im.webp), len(im.png_))
			}
		}
	}
	if _, err := central.New(central.Options{Dir: t.TempDir(), ImageFormat: "gif"}); err == nil {
		t.Error("image format gif accepted")
	}
}

// BenchmarkDecodeJobImage decodes the same pixels as PNG and as WebP
// lossless, alternated in every iteration, with the station's decoder
// (card.DecodeImage): what the station spends on a job's photo at arrival
// and again at render. Two photos: the centre's synthetic face (240 × 320,
// under 256 colours) and the card sample's (a smooth photograph-like
// image, decoded from its JPEG).
func BenchmarkDecodeJobImage(b *testing.B) {
	face, err := card.DecodeImage(central.NewPerson(3, nil).Photo)
	if err != nil {
		b.Fatal(err)
	}
	smooth, err := jpeg.Decode(bytes.NewReader(sample.Photo(1)))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"face", face}, {"sample", smooth}} {
		b.Run(c.name, func(b *testing.B) {
			pngB, err := imgenc.Encode(c.img, imgenc.PNG)
			if err != nil {
				b.Fatal(err)
			}
			webpB, err := imgenc.Encode(c.img, imgenc.WebP)
			if err != nil {
				b.Fatal(err)
			}
			var tp, tw time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := card.DecodeImage(pngB); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := card.DecodeImage(webpB); err != nil {
					b.Fatal(err)
				}
				tw += time.Since(t1)
				tp += t1.Sub(t0)
			}
			b.ReportMetric(float64(tp.Microseconds())/float64(b.N)/1000, "png-ms")
			b.ReportMetric(float64(tw.Microseconds())/float64(b.N)/1000, "webp-ms")
			b.ReportMetric(float64(tw)/float64(tp), "webp/png")
			b.ReportMetric(float64(len(pngB)), "png-B")
			b.ReportMetric(float64(len(webpB)), "webp-B")
		})
	}
}
