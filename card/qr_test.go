package card

import (
	"slices"
	"testing"
)

func TestFormatWord(t *testing.T) {
	// Values from the ISO/IEC 18004 format information table.
	tests := []struct {
		ec   byte
		mask int
		want uint16
	}{
		{'L', 0, 0b111011111000100},
		{'L', 7, 0b110100101110110},
		{'M', 0, 0b101010000010010},
		{'M', 5, 0b100000011001110},
		{'Q', 0, 0b011010101011111},
		{'H', 0, 0b001011010001001},
		{'H', 7, 0b000100000111011},
	}
	for _, tt := range tests {
		if got := formatWord(tt.ec, tt.mask); got != tt.want {
			t.Errorf("formatWord(%c, %d) = %015b, want %015b", tt.ec, tt.mask, got, tt.want)
		}
	}
}

// TestQRModulesStable encodes each text many times: go-qrcode alone picks
// among equal-scoring masks at random, qrModules must not.
func TestQRModulesStable(t *testing.T) {
	for _, text := range []string{"3201234567890001", "3275014101900002", "HELLO WORLD", "ektp:3201234567890001", "JL. RAYA PAJAJARAN NO. 45", longText} {
		first, err := qrModules(text, 'M')
		if err != nil {
			t.Fatal(err)
		}
		for range 30 {
			again, err := qrModules(text, 'M')
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(first, again, slices.Equal) {
				t.Fatalf("%q: two encodings differ", text)
			}
		}
		// Whatever mask go-qrcode picked, the result is the same, and
		// normalizing an already normalized code changes nothing.
		raw, err := qrGridFor(text, 'M')
		if err != nil {
			t.Fatal(err)
		}
		g := qrGrid{dim: raw.dim, dark: first, data: raw.data}
		if again := g.normalizeMask('M'); !slices.EqualFunc(first, again, slices.Equal) {
			t.Errorf("%q: normalizing twice changes the code", text)
		}
		// Data modules: codewords × 8 plus remainder bits (ISO/IEC 18004).
		want := map[int]int{21: 26 * 8, 25: 44*8 + 7, 29: 70*8 + 7, 45: 196 * 8, 61: 346 * 8}[raw.dim]
		if n := countData(raw.data); n != want {
			t.Errorf("%q: %d data modules in a %d² symbol, want %d: module types misread", text, n, raw.dim, want)
		}
	}
}

// longText needs version 7 or more (with version information blocks).
const longText = "ektp://verify?nik=3201234567890001&nama=siti+nurhaliza+rahmawati&lahir=bogor+17-08-1990&terbit=kab+bogor+24-11-2026"

func countData(d [][]bool) int {
	n := 0
	for _, row := range d {
		for _, v := range row {
			if v {
				n++
			}
		}
	}
	return n
}
