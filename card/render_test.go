package card_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"printstation/internal/golden"
	"strings"
	"sync"
	"testing"

	"printstation/card"
	"printstation/card/sample"
)

func renderDemo(t testing.TB) (*image.RGBA, *image.Gray) {
	t.Helper()
	col, blk, err := card.Render(card.DemoTemplate(), sample.Fields(), sample.Photo(1), sample.Signature(1))
	if err != nil {
		t.Fatalf("Render demo: %v", err)
	}
	return col, blk
}

func TestRenderDemoGolden(t *testing.T) {
	col, blk := renderDemo(t)
	if col.Bounds() != image.Rect(0, 0, 1016, 648) {
		t.Fatalf("colour image is %v, want 1016 × 648", col.Bounds())
	}
	if blk == nil || blk.Bounds() != col.Bounds() {
		t.Fatalf("black image = %v, want 1016 × 648", blk)
	}
	goldenPNG(t, "ektp-demo-color.png", col)
	goldenPNG(t, "ektp-demo-black.png", blk)
	goldenPNG(t, "ektp-demo-composite.png", card.Composite(col, blk))
}

// goldenPNG compares img with testdata/name. A difference of up to 2 levels a
// channel is allowed: the rasterizers use floating point, and fused
// multiply-add on other CPUs may move an edge pixel by one level.
func goldenPNG(t *testing.T, name string, img image.Image) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if golden.Update() {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test ./card -run Golden -update to create it)", err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatalf("golden %s: %v", path, err)
	}
	if want.Bounds() != img.Bounds() {
		t.Fatalf("%s: size %v, golden %v", name, img.Bounds(), want.Bounds())
	}
	bad, first := 0, image.Point{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			w := color.NRGBAModel.Convert(want.At(x, y)).(color.NRGBA)
			if diff(g.R, w.R) > 2 || diff(g.G, w.G) > 2 || diff(g.B, w.B) > 2 || diff(g.A, w.A) > 2 {
				if bad == 0 {
					first = image.Pt(x, y)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		out := filepath.Join(t.TempDir(), name)
		var buf bytes.Buffer
		_ = png.Encode(&buf, img)
		_ = os.WriteFile(out, buf.Bytes(), 0o644)
		t.Errorf("%s: %d pixels differ from the golden, first at %v; got image written to %s (look at both; -update if the change is intended)", name, bad, first, out)
	}
}

func diff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestRenderIsDeterministic(t *testing.T) {
	col1, blk1 := renderDemo(t)
	// Several at once, as per-printer workers do.
	var wg sync.WaitGroup
	results := make([]error, 4)
	for i := range results {
		wg.Go(func() {
			col, blk, err := card.Render(card.DemoTemplate(), sample.Fields(), sample.Photo(1), sample.Signature(1))
			switch {
			case err != nil:
				results[i] = err
			case !bytes.Equal(col.Pix, col1.Pix):
				results[i] = errors.New("colour image differs")
			case !bytes.Equal(blk.Pix, blk1.Pix):
				results[i] = errors.New("black image differs")
			}
		})
	}
	wg.Wait()
	for i, err := range results {
		if err != nil {
			t.Errorf("render %d: %v", i, err)
		}
	}
}

func TestRenderDemoLayers(t *testing.T) {
	col, blk := renderDemo(t)
	// The NIK digits are on K: dark on the K panel, not on the colour one.
	nik := image.Rect(250, 118, 715, 166)
	if n := countDark(blk, nik); n < 2000 {
		t.Errorf("K panel has %d inked pixels in the NIK box, want the 16 digits", n)
	}
	if n := countDark(col, nik); n != 0 {
		t.Errorf("colour panels have %d near-black pixels in the NIK box: K text leaked onto YMC", n)
	}
	// The photo is on the colour panels only.
	photo := image.Rect(772, 126, 968, 372)
	if n := countDark(blk, photo); n != 0 {
		t.Errorf("K panel has %d inked pixels over the photo", n)
	}
	// Nothing on K outside the card's own margin (no text cut at the edge).
	inner := image.Rect(8, 8, 1008, 640)
	for y := 0; y < 648; y++ {
		for x := 0; x < 1016; x++ {
			if !image.Pt(x, y).In(inner) && blk.GrayAt(x, y).Y < 128 {
				t.Fatalf("K ink at the card edge (%d,%d)", x, y)
			}
		}
	}
}

func countDark(img image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.GrayModel.Convert(img.At(x, y)).(color.Gray)
			if c.Y < 64 {
				n++
			}
		}
	}
	return n
}

func TestRenderMissingField(t *testing.T) {
	for _, value := range []string{"<absent>", "", "   \n\t"} {
		t.Run(fmt.Sprintf("%q", value), func(t *testing.T) {
			f := sample.Fields()
			if value == "<absent>" {
				delete(f, "nama")
			} else {
				f["nama"] = value
			}
			_, _, err := card.Render(card.DemoTemplate(), f, sample.Photo(1), sample.Signature(1))
			assertFieldError(t, err, "nama", card.ErrMissingField)
		})
	}
}

func assertFieldError(t *testing.T, err error, field string, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v, want %v", err, kind)
	}
	var fe *card.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("error %v does not name field %q", err, field)
	}
	if !strings.Contains(err.Error(), `field "`+field+`"`) {
		t.Errorf("message %q does not name the field", err)
	}
	// Errors reach logs: no personal data in them.
	for k, v := range sample.Fields() {
		if len(v) > 3 && strings.Contains(err.Error(), v) {
			t.Errorf("message %q contains the value of field %s", err, k)
		}
	}
}

func TestRenderBadImages(t *testing.T) {
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, image.NewPaletted(image.Rect(0, 0, 10, 10), []color.Color{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	huge := pngOf(image.NewGray(image.Rect(0, 0, card.MaxImageSide+1, 1)))
	tests := []struct {
		name             string
		photo, signature []byte
		field            string
		kind             error
	}{
		{"no photo", nil, sample.Signature(1), "photo", card.ErrMissingField},
		{"no signature", sample.Photo(1), nil, "signature", card.ErrMissingField},
		{"photo not an image", []byte("this is not a JPEG"), sample.Signature(1), "photo", card.ErrBadImage},
		{"photo truncated", sample.Photo(1)[:500], sample.Signature(1), "photo", card.ErrBadImage},
		{"photo is a GIF", gifBuf.Bytes(), sample.Signature(1), "photo", card.ErrBadImage},
		{"photo too many pixels", huge, sample.Signature(1), "photo", card.ErrImageTooLarge},
		{"photo too many bytes", make([]byte, card.MaxImageBytes+1), sample.Signature(1), "photo", card.ErrImageTooLarge},
		{"signature not an image", sample.Photo(1), []byte{0x89, 'P', 'N', 'G'}, "signature", card.ErrBadImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := card.Render(card.DemoTemplate(), sample.Fields(), tt.photo, tt.signature)
			assertFieldError(t, err, tt.field, tt.kind)
		})
	}
}

func pngOf(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func mustParse(t *testing.T, s string) *card.Template {
	t.Helper()
	tpl, err := card.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// inkBounds is the smallest rectangle holding every inked K pixel.
func inkBounds(g *image.Gray) image.Rectangle {
	var r image.Rectangle
	for y := 0; y < g.Rect.Dy(); y++ {
		for x := 0; x < g.Rect.Dx(); x++ {
			if g.GrayAt(x, y).Y < 250 {
				r = r.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return r
}

func TestTextShrinksToFit(t *testing.T) {
	tpl := mustParse(t, tmpl(`{"type": "text", "name": "nama", "layer": "k", "x": 100, "y": 100, "w": 300, "h": 40, "text": "{nama}", "size": 30, "min_size": 10}`))
	box := image.Rect(100, 100, 400, 140)
	_, short, err := card.Render(tpl, map[string]string{"nama": "SITI"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, long, err := card.Render(tpl, map[string]string{"nama": "SITI NURHALIZA RAHMAWATI BINTI ABDULLAH"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sb, lb := inkBounds(short), inkBounds(long)
	if !sb.In(box) || !lb.In(box) {
		t.Fatalf("ink outside the box %v: short %v, long %v", box, sb, lb)
	}
	if lb.Dx() < 250 {
		t.Errorf("long name uses %d of 300 pixels: shrunk more than needed", lb.Dx())
	}
	if lb.Dy() >= sb.Dy() {
		t.Errorf("long name is %d pixels high, short %d: it was not made smaller", lb.Dy(), sb.Dy())
	}
	// Shrunk text keeps its baseline: the bottoms of the capitals line up.
	if d := sb.Max.Y - lb.Max.Y; d < -1 || d > 1 {
		t.Errorf("baseline moved: short text ends at y=%d, shrunk text at y=%d", sb.Max.Y, lb.Max.Y)
	}

	// Beyond min_size: refused, never cut off.
	_, _, err = card.Render(tpl, map[string]string{"nama": strings.Repeat("PANJANG ", 20)}, nil, nil)
	assertFieldError(t, err, "nama", card.ErrTextTooLong)
}

func TestTextWraps(t *testing.T) {
	tpl := mustParse(t, tmpl(`{"type": "text", "name": "alamat", "layer": "k", "x": 100, "y": 100, "w": 300, "h": 100, "text": "{alamat}", "size": 28, "fit": "wrap", "max_lines": 3}`))
	box := image.Rect(100, 100, 400, 200)
	_, blk, err := card.Render(tpl, map[string]string{"alamat": "JL. RAYA PAJAJARAN NO. 45 BLOK C KOMPLEKS PERUMAHAN"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := inkBounds(blk)
	if !b.In(box) {
		t.Fatalf("ink %v outside the box %v", b, box)
	}
	// Count text lines: runs of rows with ink.
	lines, inRun := 0, false
	for y := box.Min.Y; y < box.Max.Y; y++ {
		has := countDark(blk, image.Rect(box.Min.X, y, box.Max.X, y+1)) > 0
		if has && !inRun {
			lines++
		}
		inRun = has
	}
	if lines < 2 || lines > 3 {
		t.Errorf("wrapped into %d lines, want 2 or 3", lines)
	}
}

func TestPhotoKeepsAspect(t *testing.T) {
	tpl := mustParse(t, tmpl(`{"type": "image", "name": "foto", "source": "photo", "x": 100, "y": 100, "w": 200, "h": 200, "fill": "#ffffff"}`))
	wide := image.NewRGBA(image.Rect(0, 0, 100, 50))
	for i := range wide.Pix {
		if i%4 == 0 || i%4 == 3 {
			wide.Pix[i] = 255 // opaque red
		}
	}
	col, blk, err := card.Render(tpl, nil, pngOf(wide), nil)
	if err != nil {
		t.Fatal(err)
	}
	if blk != nil {
		t.Error("nothing on K, black image should be nil")
	}
	red := func(x, y int) bool { c := col.RGBAAt(x, y); return c.R > 200 && c.G < 50 && c.B < 50 }
	// 2:1 photo in a square box: full width, half the height, centred.
	for _, p := range []struct {
		x, y int
		want bool
	}{{101, 200, true}, {298, 200, true}, {200, 152, true}, {200, 247, true}, {200, 140, false}, {200, 260, false}, {200, 105, false}} {
		if red(p.x, p.y) != p.want {
			t.Errorf("pixel (%d,%d) red = %v, want %v", p.x, p.y, !p.want, p.want)
		}
	}
}

func TestOptionalFieldLeftEmpty(t *testing.T) {
	tpl := mustParse(t, tmpl(`{"type": "text", "name": "gelar", "layer": "k", "x": 10, "y": 60, "w": 300, "h": 40, "text": "Gelar: {gelar}", "size": 30, "optional": true}`))
	_, blk, err := card.Render(tpl, map[string]string{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := inkBounds(blk); !b.Empty() {
		t.Errorf("optional element with its field missing drew ink at %v", b)
	}
}

func TestComposite(t *testing.T) {
	col := image.NewRGBA(image.Rect(0, 0, 3, 1))
	for i := range col.Pix {
		col.Pix[i] = 200
	}
	blk := image.NewGray(image.Rect(0, 0, 3, 1))
	blk.Pix[0], blk.Pix[1], blk.Pix[2] = 0, 255, 128
	out := card.Composite(col, blk)
	if c := out.RGBAAt(0, 0); c.R != 0 || c.G != 0 || c.B != 0 {
		t.Errorf("full resin gives %v, want black", c)
	}
	if c := out.RGBAAt(1, 0); c.R != 200 {
		t.Errorf("no resin gives %v, want the colour unchanged", c)
	}
	if c := out.RGBAAt(2, 0); c.R < 95 || c.R > 105 {
		t.Errorf("half resin gives %v, want about half", c)
	}
	if col.Pix[0] != 200 {
		t.Error("Composite changed its input")
	}
	if n := card.Composite(col, nil); !bytes.Equal(n.Pix, col.Pix) || &n.Pix[0] == &col.Pix[0] {
		t.Error("Composite with no K panel must return a copy of the colour image")
	}
}

// TestQRScans reads the printed QR codes back with zbarimg (Debian
// zbar-tools, installed by scripts/deps.sh): the demo card's NIK, and codes
// of several symbol versions (alignment patterns, version information).
func TestQRScans(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("zbarimg not installed: scripts/deps.sh installs zbar-tools, which CI needs")
		}
		t.Skip("zbarimg not installed (apt-get install zbar-tools); scripts/deps.sh installs it")
	}
	scan := func(t *testing.T, img image.Image) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "card.png")
		if err := os.WriteFile(path, pngOf(img), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path).Output()
		if err != nil {
			t.Fatalf("zbarimg found no QR code on the card: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	t.Run("demo", func(t *testing.T) {
		col, blk := renderDemo(t)
		if got, want := scan(t, card.Composite(col, blk)), sample.Fields()["nik"]; got != want {
			t.Errorf("QR code reads %q, want the NIK %q", got, want)
		}
	})
	tpl := mustParse(t, tmpl(`{"type": "qr", "name": "qr", "layer": "k", "text": "{data}", "ec": "M", "x": 200, "y": 20, "w": 600, "h": 600}`))
	for _, text := range []string{
		"3201234567890001",                 // version 1, numeric
		"JL. RAYA PAJAJARAN NO. 45 BLOK C", // version 2, alphanumeric
		strings.Repeat("ektp-verify/", 10), // version 7, byte, version information
	} {
		t.Run(text, func(t *testing.T) {
			col, blk, err := card.Render(tpl, map[string]string{"data": text}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := scan(t, card.Composite(col, blk)); got != text {
				t.Errorf("QR code reads %q, want %q", got, text)
			}
		})
	}
}

func TestQRTooDenseForBox(t *testing.T) {
	tpl := mustParse(t, tmpl(`{"type": "qr", "name": "qr", "layer": "k", "text": "{alamat}", "x": 10, "y": 10, "w": 60, "h": 60}`))
	_, _, err := card.Render(tpl, map[string]string{"alamat": strings.Repeat("JALAN PANJANG ", 20)}, nil, nil)
	assertFieldError(t, err, "alamat", card.ErrQRTooDense)
}

// TestDemoLongValues fills the demo with long (but printable) values: they
// shrink inside their own boxes and never run into the photo column.
func TestDemoLongValues(t *testing.T) {
	f := sample.Fields()
	f["nama"] = "SITI NURHALIZA RAHMAWATI BINTI ABDULLAH SYAH"
	f["alamat"] = "JL. RAYA PAJAJARAN NO. 45 BLOK C KOMPLEKS BOGOR BARU"
	f["tempat_tgl_lahir"] = "KABUPATEN KEPULAUAN SERIBU, 17-08-1990"
	f["provinsi"] = "KEPULAUAN BANGKA BELITUNG"
	f["kabupaten"] = "KABUPATEN KEPULAUAN SIAU TAGULANDANG BIARO"
	f["tempat_terbit"] = "KAB. KEPULAUAN SIAU TAGULANDANG BIARO"
	col, blk, err := card.Render(card.DemoTemplate(), f, sample.Photo(2), sample.Signature(2))
	if err != nil {
		t.Fatal(err)
	}
	// The gutter between the value column (ends at x=715) and the photo
	// column (starts at x=730) stays clear on every data row.
	if n := countDark(blk, image.Rect(716, 118, 729, 530)); n != 0 {
		t.Errorf("%d K pixels in the gutter before the photo: a value overflowed", n)
	}
	if golden.Update() {
		if err := os.WriteFile(filepath.Join(t.TempDir(), "long.png"), pngOf(card.Composite(col, blk)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Beyond what fits at min_size the job is refused, naming the field.
	f["nama"] = strings.Repeat("NURHALIZA ", 8)
	_, _, err = card.Render(card.DemoTemplate(), f, sample.Photo(2), sample.Signature(2))
	assertFieldError(t, err, "nama", card.ErrTextTooLong)
}
