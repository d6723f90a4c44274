// Package sample makes synthetic, deterministic job data for card
// rendering: a passport-style photo, a signature and e-KTP fields. No real
// person's data is involved; simulators and tests share it.
package sample

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
)

// Photo returns a 300 × 375 JPEG of a stylised head and shoulders on a red
// or blue background (as on ID photos). The same seed gives the same bytes.
func Photo(seed int) []byte {
	const w, h = 300, 375
	pal := []struct{ bg, skin, hair, shirt color.RGBA }{
		{color.RGBA{200, 40, 40, 255}, color.RGBA{224, 178, 140, 255}, color.RGBA{30, 24, 20, 255}, color.RGBA{245, 245, 245, 255}},
		{color.RGBA{40, 90, 180, 255}, color.RGBA{196, 148, 110, 255}, color.RGBA{20, 18, 18, 255}, color.RGBA{40, 40, 60, 255}},
		{color.RGBA{190, 35, 50, 255}, color.RGBA{170, 120, 88, 255}, color.RGBA{45, 35, 30, 255}, color.RGBA{230, 230, 220, 255}},
	}
	p := pal[((seed%len(pal))+len(pal))%len(pal)]
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	in := func(x, y, cx, cy, rx, ry float64) bool {
		dx, dy := (x-cx)/rx, (y-cy)/ry
		return dx*dx+dy*dy <= 1
	}
	headRX := 68 + float64(seed%5)*2
	for y := range h {
		for x := range w {
			fx, fy := float64(x), float64(y)
			c := p.bg
			// a soft vertical shade so the photo is not flat
			shade := uint8(math.Min(255, float64(y)/float64(h)*30))
			c.R = sat(int(c.R) - int(shade))
			switch {
			case in(fx, fy, 150, 390, 150, 120): // shoulders
				c = p.shirt
			case in(fx, fy, 150, 128, headRX+8, 100) && fy < 120: // hair
				c = p.hair
			case in(fx, fy, 150, 160, headRX, 92): // face
				c = p.skin
			case fx > 128 && fx < 172 && fy > 230 && fy < 290: // neck
				c = p.skin
			}
			if in(fx, fy, 124, 150, 9, 5) || in(fx, fy, 176, 150, 9, 5) { // eyes
				c = color.RGBA{40, 30, 25, 255}
			}
			if in(fx, fy, 150, 210, 22, 5) && fy > 208 { // mouth
				c = color.RGBA{150, 70, 70, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		panic(err) // encoding to memory cannot fail
	}
	return b.Bytes()
}

func sat(v int) uint8 { return uint8(max(0, min(255, v))) }

// Signature returns a 400 × 160 PNG of a scribble in dark ink on a
// transparent background. The same seed gives the same bytes.
func Signature(seed int) []byte {
	const w, h = 400, 160
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	ink := color.NRGBA{20, 30, 80, 255}
	f := 1 + float64(seed%3)*0.3
	prevX, prevY := -1.0, -1.0
	for i := 0; i <= 2000; i++ {
		t := float64(i) / 2000
		x := 30 + t*340
		y := 80 + 45*math.Sin(t*math.Pi*5*f)*math.Cos(t*math.Pi*1.5) + 15*math.Sin(t*math.Pi*17)
		if prevX >= 0 {
			for s := 0.0; s <= 1; s += 0.25 {
				px, py := prevX+(x-prevX)*s, prevY+(y-prevY)*s
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						img.SetNRGBA(int(px)+dx, int(py)+dy, ink)
					}
				}
			}
		}
		prevX, prevY = x, y
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Fields returns a complete, made-up set of e-KTP job fields.
func Fields() map[string]string {
	return map[string]string{
		"nik":               "3201234567890001",
		"nama":              "SITI NURHALIZA RAHMAWATI",
		"tempat_tgl_lahir":  "BOGOR, 17-08-1990",
		"jenis_kelamin":     "PEREMPUAN",
		"alamat":            "JL. RAYA PAJAJARAN NO. 45 BLOK C",
		"rt_rw":             "003/007",
		"kel_desa":          "BARANANGSIANG",
		"kecamatan":         "BOGOR TIMUR",
		"agama":             "ISLAM",
		"status_perkawinan": "KAWIN",
		"pekerjaan":         "PEGAWAI SWASTA",
		"kewarganegaraan":   "WNI",
		"berlaku_hingga":    "SEUMUR HIDUP",
		"provinsi":          "JAWA BARAT",
		"kabupaten":         "KABUPATEN BOGOR",
		"tempat_terbit":     "KAB. BOGOR",
		"tanggal_terbit":    "24-11-2026",
	}
}
