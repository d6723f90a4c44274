// Package imgenc encodes a job's photo and signature image as the reference
// centre sends them: WebP lossless (VP8L) by default, PNG on request.
//
// Lossless means the station decodes exactly the pixels the centre had, so
// the printed card is the same whichever of the two formats carried them;
// WebP lossless is the smaller (the synthetic face: 8.0 KB against 16.5 KB
// of PNG, docs/bench/station.md "Bytes on the wire per job").
//
// The encoder is libwebp (the WebP reference encoder, v1.4.0) compiled to
// WebAssembly and run by wazero, through github.com/gen2brain/webp: no cgo,
// nothing to install. Only the centre simulator, benchmarks and tests link
// this package; the station decodes with golang.org/x/image/webp and never
// links an encoder (TestProductionBinariesLinkNoEncoder in sim/central).
package imgenc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"github.com/gen2brain/webp"
)

// Format is how a job image is encoded.
type Format string

const (
	WebP Format = "webp" // lossless VP8L: what the centre sends
	PNG  Format = "png"  // the earlier form, kept to measure against
	// WebPLossy (VP8, quality 90) is not what the centre sends; stations
	// accept it as they accept JPEG, and tests use it to show that.
	WebPLossy Format = "webp-lossy"
)

// ParseFormat reads a format name ("" is WebP, the default).
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", WebP:
		return WebP, nil
	case PNG:
		return PNG, nil
	}
	return "", fmt.Errorf("image format %q: want %q or %q", s, WebP, PNG)
}

// Encode encodes img losslessly in format f.
func Encode(img image.Image, f Format) (out []byte, err error) {
	// gen2brain/webp panics when its embedded WebAssembly module cannot be
	// compiled (a broken build, not bad input): an error for the caller,
	// the centre goes on.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("imgenc: %s encoder failed: %v", f, r)
		}
	}()
	var b bytes.Buffer
	switch f {
	case "", WebP:
		// Lossless at libwebp's default effort (method 4, quality 75, as
		// cwebp -lossless); Exact keeps the colour under fully transparent
		// pixels too, so that every decoded pixel equals its source.
		// Method 6 and quality 100 gained under 2 % on the synthetic face
		// at many times the CPU.
		if err := webp.Encode(&b, img, webp.Options{Lossless: true, Method: 4, Quality: 75, Exact: true}); err != nil {
			return nil, fmt.Errorf("imgenc: WebP lossless: %w", err)
		}
	case WebPLossy:
		if err := webp.Encode(&b, img, webp.Options{Quality: 90, Method: 4}); err != nil {
			return nil, fmt.Errorf("imgenc: WebP lossy: %w", err)
		}
	case PNG:
		if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, img); err != nil {
			return nil, fmt.Errorf("imgenc: PNG: %w", err)
		}
	default:
		return nil, fmt.Errorf("imgenc: unknown format %q", f)
	}
	return b.Bytes(), nil
}

// Reencode decodes a PNG or JPEG image and encodes its pixels in format f
// (benchmarks and tests: the same job in both forms).
func Reencode(b []byte, f Format) ([]byte, error) {
	var img image.Image
	var err error
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG")):
		img, err = png.Decode(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		img, err = jpeg.Decode(bytes.NewReader(b))
	default:
		return nil, fmt.Errorf("imgenc: reencode: not a PNG or JPEG image")
	}
	if err != nil {
		return nil, fmt.Errorf("imgenc: reencode: %w", err)
	}
	return Encode(img, f)
}

// UniformVP8L is a valid lossless WebP of w × h transparent black pixels in
// 28 bytes, whatever w and h (1 to 16384): every prefix code has a single
// symbol, which costs no bits a pixel. It is what a decompression bomb looks
// like — a 16384 × 16384 one decodes to 1 GiB — for tests that the station
// refuses it from its header.
func UniformVP8L(w, h int) ([]byte, error) {
	if w < 1 || h < 1 || w > 1<<14 || h > 1<<14 {
		return nil, fmt.Errorf("imgenc: UniformVP8L %d × %d: each side must be 1 to 16384", w, h)
	}
	// VP8L bitstream, bits read least significant first: signature 0x2f;
	// 14 bits width-1, 14 bits height-1, 1 bit alpha used, 3 bits version;
	// then no transform (1 bit), no colour cache (1), no meta prefix codes
	// (1), and five "simple" prefix codes each of one 1-bit symbol 0
	// (bits 1, 0, 0, 0).
	var bits uint64
	n := 0
	put := func(v uint64, k int) { bits |= v << n; n += k }
	put(uint64(w-1), 14)
	put(uint64(h-1), 14)
	put(1, 1) // alpha used
	put(0, 3)
	put(0, 1)
	put(0, 1)
	put(0, 1)
	for range 5 {
		put(1, 1)
		put(0, 1)
		put(0, 1)
		put(0, 1)
	}
	data := []byte{0x2f}
	for i := 0; i < (n+7)/8; i++ {
		data = append(data, byte(bits>>(8*i)))
	}
	if len(data)%2 == 1 {
		data = append(data, 0) // RIFF chunks are padded to even length
	}
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(4+8+len(data)))
	out = append(out, "WEBPVP8L"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	return append(out, data...), nil
}
