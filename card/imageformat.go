package card

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// A job's photo and signature image may be PNG, JPEG or WebP (lossless
// VP8L, which the centre sends, or lossy VP8). Each is decoded by the
// decoder of the format its first bytes name, called directly rather than
// through image.Decode: the registry holds whatever decoders a binary
// happens to link — a test binary that links the reference centre's WebP
// encoder also links that library's own WebP decoder, registered under the
// same name — and the station must decode with the same code in tests and
// in printstationd.
type imageFormat struct {
	name   string
	magic  string // '?' matches any byte
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var imageFormats = []imageFormat{
	{"png", "\x89PNG\r\n\x1a\n", png.DecodeConfig, png.Decode},
	{"jpeg", "\xff\xd8", jpeg.DecodeConfig, jpeg.Decode},
	{"webp", "RIFF????WEBPVP8", webp.DecodeConfig, webp.Decode},
}

// ImageFormats names the formats a job image may be in.
const ImageFormats = "PNG, JPEG or WebP"

// errUnknownFormat is wrapped in ErrBadImage.
var errUnknownFormat = errors.New("its first bytes name no known format")

func sniff(b []byte) *imageFormat {
	for i := range imageFormats {
		f := &imageFormats[i]
		if len(b) < len(f.magic) {
			continue
		}
		ok := true
		for j := 0; j < len(f.magic) && ok; j++ {
			ok = f.magic[j] == '?' || f.magic[j] == b[j]
		}
		if ok {
			return f
		}
	}
	return nil
}

// DecodeImageConfig reads a job image's format ("png", "jpeg", "webp") and
// its dimensions from its header alone, without decoding pixels: the check
// against MaxImageSide comes first, so an image declaring 16384 × 16384
// pixels in a few bytes is refused before anything is allocated for it.
// The error wraps ErrBadImage.
func DecodeImageConfig(b []byte) (image.Config, string, error) {
	f := sniff(b)
	if f == nil {
		return image.Config{}, "", fmt.Errorf("%w: %w", ErrBadImage, errUnknownFormat)
	}
	cfg, err := f.config(bytes.NewReader(b))
	if err != nil {
		return image.Config{}, f.name, fmt.Errorf("%w: %w", ErrBadImage, err)
	}
	return cfg, f.name, nil
}

// DecodeImage decodes a job image whose header DecodeImageConfig accepted
// (and whose dimensions the caller checked). The error wraps ErrBadImage.
func DecodeImage(b []byte) (image.Image, error) {
	f := sniff(b)
	if f == nil {
		return nil, fmt.Errorf("%w: %w", ErrBadImage, errUnknownFormat)
	}
	img, err := f.decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadImage, err)
	}
	return img, nil
}
