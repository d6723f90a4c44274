package central

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"printstation/jobqueue"
	"printstation/sim/central/imgenc"
)

// Sign signs a job payload as the issuing authority would: EdDSA, header
// kid, the JWS in flattened JSON form with the payload unencoded (RFC 7797),
// so the images inside the payload JSON are base64 once, not twice.
func Sign(key ed25519.PrivateKey, kid string, p *jobqueue.Payload) (string, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	return SignRaw(key, kid, raw)
}

// SignRaw signs arbitrary payload bytes in the form Sign uses (tests use it
// for malformed jobs).
func SignRaw(key ed25519.PrivateKey, kid string, payload []byte) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key},
		(&jose.SignerOptions{}).WithHeader("kid", kid).WithBase64(false)) // adds "crit": ["b64"]
	if err != nil {
		return "", err
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	det, err := obj.DetachedCompactSerialize() // header..signature
	if err != nil {
		return "", err
	}
	h, sig, ok := strings.Cut(det, "..")
	if !ok {
		return "", fmt.Errorf("central: unexpected detached JWS %q", det)
	}
	b, err := json.Marshal(struct {
		Protected string `json:"protected"`
		Payload   string `json:"payload"`
		Signature string `json:"signature"`
	}{h, string(payload), sig})
	return string(b), err
}

// SignCompact signs in the compact serialization (the payload base64url
// encoded), which stations accept too; the wire benchmark's baseline.
func SignCompact(key ed25519.PrivateKey, kid string, payload []byte) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key},
		(&jose.SignerOptions{}).WithHeader("kid", kid).WithType("JWT"))
	if err != nil {
		return "", err
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

var (
	maleNames   = []string{"Budi", "Agus", "Andi", "Eko", "Wahyu", "Joko", "Hendra", "Rudi", "Bambang", "Dedi", "Fajar", "Teguh"}
	femaleNames = []string{"Siti", "Dewi", "Rina", "Putri", "Sri", "Ayu", "Nur", "Fitri", "Indah", "Yuni", "Lestari", "Ratna"}
	familyNames = []string{"Santoso", "Wijaya", "Saputra", "Lestari", "Hidayat", "Kusuma", "Pratama", "Nugroho", "Rahmawati", "Setiawan", "Susanto", "Gunawan", "Purnama", "Siregar", "Nasution", "Simanjuntak", "Wibowo", "Hasibuan"}
	religions   = []string{"ISLAM", "KRISTEN", "KATOLIK", "HINDU", "BUDDHA", "KONGHUCU"}
	jobs        = []string{"PELAJAR/MAHASISWA", "KARYAWAN SWASTA", "WIRASWASTA", "PETANI/PEKEBUN", "GURU", "MENGURUS RUMAH TANGGA", "PEGAWAI NEGERI SIPIL", "NELAYAN/PERIKANAN"}
	marital     = []string{"BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"}
	streets     = []string{"JL. MERDEKA", "JL. SUDIRMAN", "JL. DIPONEGORO", "JL. PAHLAWAN", "JL. MELATI", "JL. KENANGA", "GG. MAWAR", "JL. RAYA BOGOR"}
)

// Regency is a kabupaten/kota with its province and a few districts.
type Regency struct {
	Code      string // 4-digit Dukcapil code, the first digits of a NIK
	Name      string
	Province  string
	Districts []string
	Villages  []string
}

// Regencies the simulator draws from.
var Regencies = []Regency{
	{"3201", "BOGOR", "JAWA BARAT", []string{"CIBINONG", "CITEUREUP", "BABAKAN MADANG", "SUKARAJA"}, []string{"PAKANSARI", "TENGAH", "PONDOK RAJEG", "HARAPAN JAYA"}},
	{"3273", "KOTA BANDUNG", "JAWA BARAT", []string{"COBLONG", "SUKAJADI", "ANDIR", "LENGKONG"}, []string{"DAGO", "LEBAKGEDE", "SEKELOA", "CIPAGANTI"}},
	{"3374", "KOTA SEMARANG", "JAWA TENGAH", []string{"CANDISARI", "TEMBALANG", "BANYUMANIK", "GAJAHMUNGKUR"}, []string{"JATINGALEH", "TANDANG", "SRONDOL", "LEMPONGSARI"}},
	{"3578", "KOTA SURABAYA", "JAWA TIMUR", []string{"GUBENG", "TEGALSARI", "WONOKROMO", "RUNGKUT"}, []string{"AIRLANGGA", "KEDUNGDORO", "DARMO", "KALIRUNGKUT"}},
	{"5171", "KOTA DENPASAR", "BALI", []string{"DENPASAR SELATAN", "DENPASAR TIMUR", "DENPASAR BARAT"}, []string{"SANUR", "SESETAN", "DAUH PURI", "KESIMAN"}},
	{"1271", "KOTA MEDAN", "SUMATERA UTARA", []string{"MEDAN BARU", "MEDAN KOTA", "MEDAN PETISAH"}, []string{"PADANG BULAN", "MESJID", "SEI SIKAMBING", "PETISAH TENGAH"}},
	{"7371", "KOTA MAKASSAR", "SULAWESI SELATAN", []string{"PANAKKUKANG", "TAMALATE", "RAPPOCINI"}, []string{"PANDANG", "MACCINI SOMBALA", "BUAKANA", "TAMAMAUNG"}},
}

var months = []string{"JANUARI", "FEBRUARI", "MARET", "APRIL", "MEI", "JUNI", "JULI", "AGUSTUS", "SEPTEMBER", "OKTOBER", "NOVEMBER", "DESEMBER"}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// JobSpec says which job to make; the personal data is drawn from Seed.
type JobSpec struct {
	Station   string
	JobID     string
	Batch     string
	Kind      jobqueue.Kind
	ReprintOf string
	Recorded  time.Time
	Issued    time.Time
	Validity  time.Duration
	Template  jobqueue.TemplateRef
	KID       string
	Seed      uint64
	// Person, when set, reuses the personal data of an earlier job (reprints).
	Person *Person
}

// Person is the personal data of one synthetic citizen.
type Person struct {
	Fields    map[string]string
	Photo     []byte
	Signature []byte
	Chip      jobqueue.Chip
}

// NewPerson draws a citizen from seed: fields, photo (240 × 320, a 16 KB
// PNG), signature image (PNG) and about 8 KB of chip data over four files.
// The server sends the same pixels as WebP lossless unless its
// Options.ImageFormat says PNG; NewPerson keeps PNG, which is cheap to
// encode, for the many tests that draw people.
func NewPerson(seed uint64, regency *Regency) *Person {
	p, err := newPerson(seed, regency, personImages{format: imgenc.PNG})
	if err != nil {
		// PNG encoding of an in-memory image has no way to fail.
		panic(err)
	}
	return p
}

// personImages says how newPerson encodes the photo and signature image.
type personImages struct {
	format imgenc.Format
	// photo, when not nil, gives the encoded photo instead of drawing one;
	// signature, when not nil, gives the encoded signature from the drawn
	// one (Options.PhotoPool: both come from a pool).
	photo     func() ([]byte, error)
	signature func(drawn image.Image) ([]byte, error)
}

// newPerson is NewPerson with the images as im says.
func newPerson(seed uint64, regency *Regency, im personImages) (*Person, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	reg := regency
	if reg == nil {
		reg = &Regencies[r.IntN(len(Regencies))]
	}
	female := r.IntN(2) == 0
	day := 1 + r.IntN(28)
	month := 1 + r.IntN(12)
	year := 1950 + r.IntN(56)
	nikDay := day
	if female {
		nikDay += 40 // the NIK encodes sex by adding 40 to the birth day
	}
	district := pick(r, reg.Districts)
	nik := fmt.Sprintf("%s%02d%02d%02d%02d%04d", reg.Code, 1+r.IntN(len(reg.Districts)), nikDay, month, year%100, 1+r.IntN(9999))
	// Given names follow the sex the NIK encodes, so a card reads true.
	givenNames := maleNames
	if female {
		givenNames = femaleNames
	}
	name := pick(r, givenNames) + " " + pick(r, familyNames)
	if r.IntN(3) == 0 {
		name = pick(r, givenNames) + " " + name
	}
	sex := "LAKI-LAKI"
	if female {
		sex = "PEREMPUAN"
	}
	birthplace := reg.Name
	if len(birthplace) > 5 && birthplace[:5] == "KOTA " {
		birthplace = birthplace[5:]
	}
	p := &Person{Fields: map[string]string{
		"nik":               nik,
		"nama":              upper(name),
		"tempat_tgl_lahir":  fmt.Sprintf("%s, %02d-%02d-%04d", birthplace, day, month, year),
		"jenis_kelamin":     sex,
		"alamat":            fmt.Sprintf("%s NO. %d", pick(r, streets), 1+r.IntN(200)),
		"rt_rw":             fmt.Sprintf("%03d/%03d", 1+r.IntN(15), 1+r.IntN(12)),
		"kel_desa":          pick(r, reg.Villages),
		"kecamatan":         district,
		"agama":             pick(r, religions),
		"status_perkawinan": pick(r, marital),
		"pekerjaan":         pick(r, jobs),
		"kewarganegaraan":   "WNI",
		"berlaku_hingga":    "SEUMUR HIDUP",
		"provinsi":          reg.Province,
		"kabupaten":         kabupaten(reg.Name),
		"tempat_terbit":     birthplace,
		"tanggal_terbit":    fmt.Sprintf("%02d-%02d-2026", 1+r.IntN(28), 1+r.IntN(11)),
	}}
	var err error
	if im.photo != nil {
		p.Photo, err = im.photo()
	} else {
		p.Photo, err = imgenc.Encode(face(r, 240, 320), im.format)
	}
	if err != nil {
		return nil, fmt.Errorf("central: photo: %w", err)
	}
	// Drawn in every case: the draw takes numbers from r, and the chip
	// data after it must not depend on the pool.
	sig := signature(r, 300, 100)
	if im.signature != nil {
		p.Signature, err = im.signature(sig)
	} else {
		p.Signature, err = imgenc.Encode(sig, im.format)
	}
	if err != nil {
		return nil, fmt.Errorf("central: signature image: %w", err)
	}
	chip := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	p.Chip = jobqueue.Chip{
		AID: "A0000002471001",
		Files: []jobqueue.ChipFile{
			{FID: "0101", Data: append([]byte(nik+"|"+upper(name)+"|"), chip(1200)...)},
			{FID: "0102", Data: chip(4096)},
			{FID: "0103", Data: chip(1800)},
			{FID: "0104", Data: chip(900)},
		},
		Lock: true,
	}
	_ = months
	return p, nil
}

func kabupaten(name string) string {
	if len(name) > 5 && name[:5] == "KOTA " {
		return name
	}
	return "KABUPATEN " + name
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// Payload builds the signed content for a spec.
func (s JobSpec) Payload() *jobqueue.Payload {
	per := s.Person
	if per == nil {
		per = NewPerson(s.Seed, nil)
	}
	kind := s.Kind
	if kind == "" {
		kind = jobqueue.KindIssue
	}
	v := s.Validity
	if v == 0 {
		v = 30 * 24 * time.Hour
	}
	return &jobqueue.Payload{
		Issuer: "dukcapil-pusat", KeyID: s.KID,
		Station: s.Station, JobID: s.JobID, Batch: s.Batch, Kind: kind, ReprintOf: s.ReprintOf,
		Recorded: s.Recorded.UTC(), IssuedAt: s.Issued.Unix(), NotBefore: s.Issued.Unix(), Expires: s.Issued.Add(v).Unix(),
		Template: s.Template, Fields: per.Fields, Photo: per.Photo, Signature: per.Signature, Chip: per.Chip,
	}
}

// face draws a simple passport-style face: background, shoulders, head,
// hair, eyes, nose and mouth, with sensor-like noise so that the PNG weighs
// what a real compressed photo would (10–20 KB).
func face(r *rand.Rand, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	bg := []color.NRGBA{{200, 40, 40, 255}, {40, 80, 200, 255}}[r.IntN(2)] // e-KTP photos are on red or blue
	skin := []color.NRGBA{{224, 172, 140, 255}, {198, 144, 110, 255}, {160, 110, 80, 255}}[r.IntN(3)]
	hair := color.NRGBA{30, 24, 20, 255}
	shirt := []color.NRGBA{{240, 240, 240, 255}, {20, 20, 60, 255}, {60, 60, 60, 255}}[r.IntN(3)]
	cx, cy := float64(w)/2, float64(h)*0.42
	rx, ry := float64(w)*0.26, float64(h)*0.25
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x), float64(y)
			c := bg
			// shoulders
			if fy > float64(h)*0.72 && math.Abs(fx-cx) < float64(w)*0.45*(fy-float64(h)*0.6)/(float64(h)*0.4)+20 {
				c = shirt
			}
			// neck
			if fy > cy && fy < float64(h)*0.78 && math.Abs(fx-cx) < float64(w)*0.1 {
				c = skin
			}
			d := (fx-cx)*(fx-cx)/(rx*rx) + (fy-cy)*(fy-cy)/(ry*ry)
			if d < 1 {
				c = skin
				if fy < cy-ry*0.45 || (d > 0.75 && fy < cy) {
					c = hair
				}
			}
			// eyes
			for _, ex := range []float64{cx - rx*0.4, cx + rx*0.4} {
				if (fx-ex)*(fx-ex)/36+(fy-(cy-ry*0.1))*(fy-(cy-ry*0.1))/12 < 1 {
					c = color.NRGBA{20, 20, 20, 255}
				}
			}
			// nose
			if math.Abs(fx-cx) < 3 && fy > cy && fy < cy+ry*0.3 {
				c = color.NRGBA{skin.R - 30, skin.G - 30, skin.B - 30, 255}
			}
			// mouth
			if math.Abs(fx-cx) < rx*0.35 && math.Abs(fy-(cy+ry*0.5)-math.Pow(fx-cx, 2)/200) < 2.5 {
				c = color.NRGBA{150, 50, 50, 255}
			}
			if (x*7+y*13)%9 == 0 {
				n := uint8(r.IntN(8))
				c.R, c.G, c.B = sat(c.R, n), sat(c.G, n), sat(c.B, n)
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func sat(v, n uint8) uint8 {
	if int(v)+int(n) > 255 {
		return 255
	}
	return v + n
}

// signature draws a scribble in black on white.
func signature(r *rand.Rand, w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	x, y := 20.0, float64(h)/2
	a, b := r.Float64()*0.2+0.05, r.Float64()*30+10
	for t := 0.0; t < float64(w-40); t += 0.3 {
		x = 20 + t
		y = float64(h)/2 + b*math.Sin(a*t)*math.Cos(t/17)
		for dx := -1; dx <= 1; dx++ {
			for dy := -1; dy <= 1; dy++ {
				img.SetGray(int(x)+dx, int(y)+dy, color.Gray{0})
			}
		}
	}
	return img
}
