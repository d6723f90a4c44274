package jobqueue_test

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"printstation/jobqueue"
	"printstation/sim/central/imgenc"
)

// webpPayload is job n with its photo and signature image as WebP lossless,
// as the centre sends them.
func webpPayload(t *testing.T, f *fixture, n int) *jobqueue.Payload {
	t.Helper()
	p := f.spec(n).Payload()
	var err error
	if p.Photo, err = imgenc.Reencode(p.Photo, imgenc.WebP); err != nil {
		t.Fatal(err)
	}
	if p.Signature, err = imgenc.Reencode(p.Signature, imgenc.WebP); err != nil {
		t.Fatal(err)
	}
	return p
}

// A job whose photo and signature are WebP is accepted and kept byte for
// byte; so is a lossy WebP photo, as a JPEG one is.
func TestWebPJobAccepted(t *testing.T) {
	f := newFixture(t)
	p := webpPayload(t, f, 1)
	if string(p.Photo[8:16]) != "WEBPVP8L" {
		t.Fatalf("photo is not lossless WebP: % x", p.Photo[:16])
	}
	if _, err := f.q.Add(f.ctx, f.sign(t, p)); err != nil {
		t.Fatalf("Add WebP job: %v", err)
	}
	j, err := f.q.Load(f.ctx, p.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(j.Photo, p.Photo) || !bytes.Equal(j.Signature, p.Signature) {
		t.Error("stored images differ from the signed ones")
	}
	lossy := f.spec(2).Payload()
	if lossy.Photo, err = imgenc.Reencode(lossy.Photo, imgenc.WebPLossy); err != nil {
		t.Fatal(err)
	}
	if _, err := f.q.Add(f.ctx, f.sign(t, lossy)); err != nil {
		t.Fatalf("Add job with a lossy WebP photo: %v", err)
	}
}

// Every limit on job images holds for WebP: pixels per side from the
// header alone (a 16384 × 16384 image in 28 bytes — a gigabyte decoded —
// is refused before decoding), damaged data, bytes.
func TestWebPLimitsAtArrival(t *testing.T) {
	bomb, err := imgenc.UniformVP8L(16384, 16384)
	if err != nil {
		t.Fatal(err)
	}
	wide, err := imgenc.UniformVP8L(2401, 2)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		code jobqueue.Code
		edit func(p *jobqueue.Payload)
	}{
		{"16384x16384 WebP photo in 28 bytes", jobqueue.CodeImageTooLarge, func(p *jobqueue.Payload) { p.Photo = bomb }},
		{"2401x2 WebP signature", jobqueue.CodeImageTooLarge, func(p *jobqueue.Payload) { p.Signature = wide }},
		{"truncated WebP photo", jobqueue.CodeImageUndecodable, func(p *jobqueue.Payload) { p.Photo = p.Photo[:len(p.Photo)/2] }},
		{"WebP header, no image", jobqueue.CodeImageUndecodable, func(p *jobqueue.Payload) { p.Photo = append([]byte(nil), p.Photo[:20]...) }},
		{"WebP photo over the byte limit", jobqueue.CodePhotoTooLarge, func(p *jobqueue.Payload) {
			p.Photo = append(append([]byte(nil), p.Photo...), make([]byte, jobqueue.DefaultLimits.PhotoBytes)...)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			p := webpPayload(t, f, 1)
			c.edit(p)
			env := f.sign(t, p)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := f.q.Add(f.ctx, env)
			runtime.ReadMemStats(&after)
			var ref *jobqueue.Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("Add: %v, want a refusal with code %s", err, c.code)
			}
			if ref.Code != c.code {
				t.Errorf("code %s (%s), want %s", ref.Code, ref.Reason, c.code)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
				t.Errorf("refusing it allocated %d MB", grew>>20)
			}
			js, _ := f.q.Jobs(f.ctx, "", jobqueue.Queued, jobqueue.Received, jobqueue.Attention)
			if len(js) != 0 {
				t.Errorf("refused job waits in the queue: %+v", js)
			}
		})
	}
}
