package card

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// fontID names one of the embedded fonts. The Go fonts are embedded in the
// binary, so a card renders the same on every station whatever is installed.
type fontID int

const (
	fontGoRegular fontID = iota
	fontGoBold
	fontMonoRegular
	fontMonoBold
	numFonts
)

var fontTTF = [numFonts][]byte{goregular.TTF, gobold.TTF, gomono.TTF, gomonobold.TTF}

// parsedFonts parses the embedded fonts once. *opentype.Font is safe for
// concurrent use; faces are not, so each render makes its own.
var parsedFonts = sync.OnceValues(func() ([numFonts]*opentype.Font, error) {
	var out [numFonts]*opentype.Font
	for i, b := range fontTTF {
		f, err := opentype.Parse(b)
		if err != nil {
			return out, fmt.Errorf("embedded font %d: %w", i, err)
		}
		out[i] = f
	}
	return out, nil
})

func lookupFont(family, weight string) (fontID, error) {
	bold := false
	switch weight {
	case "", "regular":
	case "bold":
		bold = true
	default:
		return 0, fmt.Errorf(`"weight" %q: use regular or bold`, weight)
	}
	switch family {
	case "", "go":
		if bold {
			return fontGoBold, nil
		}
		return fontGoRegular, nil
	case "gomono":
		if bold {
			return fontMonoBold, nil
		}
		return fontMonoRegular, nil
	}
	return 0, fmt.Errorf(`"font" %q is not embedded: use "go" or "gomono"`, family)
}

// vmetrics are a font's vertical metrics at one size, in pixels.
type vmetrics struct{ ascent, descent, height float64 }

func fontMetrics(id fontID, size float64) vmetrics {
	fonts, err := parsedFonts()
	if err != nil {
		// The fonts are compiled in; failing here means a broken build.
		panic(err)
	}
	var buf sfnt.Buffer
	m, err := fonts[id].Metrics(&buf, fixed.Int26_6(math.Round(size*64)), font.HintingNone)
	if err != nil {
		panic(fmt.Errorf("embedded font metrics: %w", err))
	}
	return vmetrics{ascent: fix2f(m.Ascent), descent: fix2f(m.Descent), height: fix2f(m.Height)}
}

// lineHeight is the vertical room one line of text needs.
func lineHeight(id fontID, size float64) float64 {
	m := fontMetrics(id, size)
	return m.ascent + m.descent
}

func fix2f(v fixed.Int26_6) float64 { return float64(v) / 64 }

func newFace(id fontID, size float64) (font.Face, error) {
	fonts, err := parsedFonts()
	if err != nil {
		return nil, err
	}
	// DPI 72 makes Size a size in pixels: templates are laid out in pixels.
	return opentype.NewFace(fonts[id], &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
}

// errNoFit is internal: the layout loop shrinks on it.
var errNoFit = errors.New("does not fit")

// textLayout is text placed in its box: the size chosen and each line with
// its pen position.
type textLayout struct {
	size  float64
	face  font.Face
	lines []placedLine
}

type placedLine struct {
	s    string
	x, y fixed.Int26_6 // baseline origin
}

// layoutText fits s into the element's box: one line made smaller until it
// fits ("shrink") or word-wrapped and made smaller until the lines fit
// ("wrap"). Text never overflows the box: below min_size it is an error.
func layoutText(el *element, s string) (*textLayout, error) {
	try := func(size float64) (*textLayout, error) {
		face, err := newFace(el.font, size)
		if err != nil {
			return nil, err
		}
		return tryLayout(el, face, size, s)
	}
	lay, err := try(el.size)
	if !errors.Is(err, errNoFit) {
		return lay, err
	}
	// The largest size, in half-pixel steps from min_size, that fits:
	// a binary search (fitting is monotonic in size), ~10 tries at most.
	best, err := try(el.minSize)
	if errors.Is(err, errNoFit) {
		return nil, ErrTextTooLong
	}
	if err != nil {
		return nil, err
	}
	lo, hi := 0, int(math.Ceil((el.size-el.minSize)*2)) // lo fits, hi (≥ el.size) does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		lay, err := try(el.minSize + float64(mid)/2)
		switch {
		case err == nil:
			lo, best = mid, lay
		case errors.Is(err, errNoFit):
			hi = mid
		default:
			return nil, err
		}
	}
	return best, nil
}

func tryLayout(el *element, face font.Face, size float64, s string) (*textLayout, error) {
	m := fontMetrics(el.font, size)
	var lines []string
	if el.wrap {
		var ok bool
		lines, ok = wrapWords(face, s, el.w)
		if !ok {
			return nil, errNoFit
		}
		step := math.Max(m.height, m.ascent+m.descent)
		maxLines := 1 + int(math.Floor((el.h-(m.ascent+m.descent))/step))
		if el.maxLines > 0 && el.maxLines < maxLines {
			maxLines = el.maxLines
		}
		if len(lines) > maxLines {
			return nil, errNoFit
		}
	} else {
		w := fix2f(font.MeasureString(face, s))
		if w > el.w {
			return nil, errNoFit
		}
		lines = []string{s}
	}
	lay := &textLayout{size: size, face: face}
	step := math.Max(m.height, m.ascent+m.descent)
	baseline := el.y + m.ascent
	if !el.wrap {
		// A shrunk single line keeps the baseline of the nominal size, so
		// it stays in line with its label.
		baseline = el.y + fontMetrics(el.font, el.size).ascent
	}
	for i, line := range lines {
		w := fix2f(font.MeasureString(face, line))
		x := el.x
		switch el.align {
		case "center":
			x += (el.w - w) / 2
		case "right":
			x += el.w - w
		}
		y := baseline + float64(i)*step
		lay.lines = append(lay.lines, placedLine{s: line, x: f2fix(x), y: f2fix(y)})
	}
	return lay, nil
}

func f2fix(v float64) fixed.Int26_6 { return fixed.Int26_6(math.Round(v * 64)) }

// wrapWords breaks s into lines no wider than maxW; ok is false when one
// word alone is wider.
func wrapWords(face font.Face, s string, maxW float64) (lines []string, ok bool) {
	words := strings.Fields(s)
	cur := ""
	for _, w := range words {
		if fix2f(font.MeasureString(face, w)) > maxW {
			return nil, false
		}
		try := w
		if cur != "" {
			try = cur + " " + w
		}
		if fix2f(font.MeasureString(face, try)) <= maxW {
			cur = try
			continue
		}
		lines = append(lines, cur)
		cur = w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines, true
}

// cleanValue makes a job's field printable on one card line: control
// characters (newlines, tabs) become spaces and runs of spaces collapse.
func cleanValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
