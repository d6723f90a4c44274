package card

import (
	"errors"
	"fmt"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// qrModules encodes text as a QR code and returns its modules, [y][x], true
// for dark, without the quiet zone.
//
// go-qrcode scores the eight mask patterns in goroutines and keeps the first
// lowest score it hears back, so two masks with the same score make its
// output vary from run to run. A card must render the same every time
// (reprints, golden tests), so the mask is chosen again here: every mask is
// scored and a tie goes to the lowest mask number. Any mask gives a valid
// code; the score only keeps finder-like patterns away.
func qrModules(text string, ec byte) ([][]bool, error) {
	g, err := qrGridFor(text, ec)
	if err != nil {
		return nil, err
	}
	return g.normalizeMask(ec), nil
}

// qrGridFor is go-qrcode's symbol for text, with the mask it chose.
func qrGridFor(text string, ec byte) (qrGrid, error) {
	var opt qrcode.EncodeOption
	switch ec {
	case 'L':
		opt = qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionLow)
	case 'Q':
		opt = qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionQuart)
	case 'H':
		opt = qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionHighest)
	default:
		ec = 'M'
		opt = qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium)
	}
	q, err := qrcode.NewWith(text, opt)
	if err != nil {
		return qrGrid{}, fmt.Errorf("QR encoding: %w", err)
	}
	var w matrixWriter
	if err := q.Save(&w); err != nil {
		return qrGrid{}, fmt.Errorf("QR encoding: %w", err)
	}
	if !w.got || w.mat.Width() != w.mat.Height() || w.mat.Width() < 21 {
		return qrGrid{}, errors.New("QR encoding: the encoder gave no usable matrix")
	}
	dim := w.mat.Width()
	g := qrGrid{dim: dim, dark: make([][]bool, dim), data: make([][]bool, dim)}
	for y := range dim {
		g.dark[y] = make([]bool, dim)
		g.data[y] = make([]bool, dim)
	}
	w.mat.Iterate(qrcode.IterDirection_ROW, func(x, y int, v qrcode.QRValue) {
		g.dark[y][x] = v.IsSet()
		g.data[y][x] = v.Type() == qrcode.QRType_DATA
	})
	// go-qrcode types alignment-pattern modules as data too; they must
	// never be masked.
	for _, cy := range alignmentCenters(dim) {
		for _, cx := range alignmentCenters(dim) {
			last := dim - 7
			if (cx == 6 && cy == 6) || (cx == 6 && cy >= last) || (cx >= last && cy == 6) {
				continue // would overlap a finder pattern: not placed
			}
			for y := cy - 2; y <= cy+2; y++ {
				for x := cx - 2; x <= cx+2; x++ {
					g.data[y][x] = false
				}
			}
		}
	}
	return g, nil
}

// alignmentCenters is the ISO/IEC 18004 table of alignment pattern centre
// coordinates, by symbol size.
func alignmentCenters(dim int) []int {
	ver := (dim - 17) / 4
	if ver < 2 || ver > 40 {
		return nil
	}
	return alignmentTable[ver-2]
}

var alignmentTable = [][]int{
	{6, 18}, {6, 22}, {6, 26}, {6, 30}, {6, 34},
	{6, 22, 38}, {6, 24, 42}, {6, 26, 46}, {6, 28, 50}, {6, 30, 54}, {6, 32, 58}, {6, 34, 62},
	{6, 26, 46, 66}, {6, 26, 48, 70}, {6, 26, 50, 74}, {6, 30, 54, 78}, {6, 30, 56, 82}, {6, 30, 58, 86}, {6, 34, 62, 90},
	{6, 28, 50, 72, 94}, {6, 26, 50, 74, 98}, {6, 30, 54, 78, 102}, {6, 28, 54, 80, 106}, {6, 32, 58, 84, 110}, {6, 30, 58, 86, 114}, {6, 34, 62, 90, 118},
	{6, 26, 50, 74, 98, 122}, {6, 30, 54, 78, 102, 126}, {6, 26, 52, 78, 104, 130}, {6, 30, 56, 82, 108, 134}, {6, 34, 60, 86, 112, 138}, {6, 30, 58, 86, 114, 142}, {6, 34, 62, 90, 118, 146},
	{6, 30, 54, 78, 102, 126, 150}, {6, 24, 50, 76, 102, 128, 154}, {6, 28, 54, 80, 106, 132, 158}, {6, 32, 58, 84, 110, 136, 162}, {6, 26, 54, 82, 110, 138, 166}, {6, 30, 58, 86, 114, 142, 170},
}

// matrixWriter takes the finished matrix from go-qrcode without any file.
type matrixWriter struct {
	mat qrcode.Matrix
	got bool
}

func (w *matrixWriter) Write(m qrcode.Matrix) error { w.mat, w.got = m, true; return nil }
func (w *matrixWriter) Close() error                { return nil }

type qrGrid struct {
	dim  int
	dark [][]bool // [y][x]
	data [][]bool // data (maskable) modules
}

// The mask patterns, as ISO/IEC 18004 and go-qrcode define them (x column,
// y row).
var qrMasks = [8]func(x, y int) bool{
	func(x, y int) bool { return (x+y)%2 == 0 },
	func(x, y int) bool { return y%2 == 0 },
	func(x, y int) bool { return x%3 == 0 },
	func(x, y int) bool { return (x+y)%3 == 0 },
	func(x, y int) bool { return (x/3+y/2)%2 == 0 },
	func(x, y int) bool { return (x*y)%2+(x*y)%3 == 0 },
	func(x, y int) bool { return ((x*y)%2+(x*y)%3)%2 == 0 },
	func(x, y int) bool { return ((x+y)%2+(x*y)%3)%2 == 0 },
}

// formatWord is the 15-bit format information for an EC level and a mask:
// 5 data bits, 10 BCH bits, XOR 0x5412.
func formatWord(ec byte, mask int) uint16 {
	lvl := map[byte]uint16{'L': 1, 'M': 0, 'Q': 3, 'H': 2}[ec]
	d := lvl<<3 | uint16(mask)
	v := uint32(d) << 10
	for i := 14; i >= 10; i-- {
		if v&(1<<i) != 0 {
			v ^= 0x537 << (i - 10)
		}
	}
	return (d<<10 | uint16(v)) ^ 0x5412
}

// formatPositions lists where bit i (i = 0 is the most significant) of the
// format word goes, in both copies, in go-qrcode's layout.
func formatPositions(dim int) (row, col [15][2]int) {
	x, y := 0, dim-1
	for i := range 15 {
		row[i] = [2]int{x, 8}
		col[i] = [2]int{8, y}
		x++
		y--
		switch x {
		case 6:
			x = 7
		case 8:
			x = dim - 8
		}
		switch y {
		case dim - 8:
			y = 8
		case 6:
			y = 5
		}
	}
	return row, col
}

// normalizeMask re-masks the grid with the best-scoring mask (lowest number
// on a tie). A grid whose format information it cannot read is returned as
// it is: still a valid code, only maybe not the same one every run.
func (g *qrGrid) normalizeMask(ec byte) [][]bool {
	row, col := formatPositions(g.dim)
	var word uint16
	for i, p := range row {
		if g.dark[p[1]][p[0]] {
			word |= 1 << (14 - i)
		}
	}
	cur := -1
	for m := range 8 {
		if formatWord(ec, m) == word {
			cur = m
		}
	}
	if cur < 0 {
		return g.dark
	}
	var best [][]bool
	bestScore := 0
	for m := range 8 {
		cand := make([][]bool, g.dim)
		for y := range g.dim {
			cand[y] = make([]bool, g.dim)
			for x := range g.dim {
				v := g.dark[y][x]
				if g.data[y][x] {
					v = v != qrMasks[cur](x, y) != qrMasks[m](x, y)
				}
				cand[y][x] = v
			}
		}
		fw := formatWord(ec, m)
		for i := range 15 {
			bit := fw&(1<<(14-i)) != 0
			cand[row[i][1]][row[i][0]] = bit
			cand[col[i][1]][col[i][0]] = bit
		}
		if s := qrPenalty(cand); best == nil || s < bestScore {
			best, bestScore = cand, s
		}
	}
	return best
}

// qrPenalty is the ISO/IEC 18004 mask evaluation (rules N1–N4).
func qrPenalty(m [][]bool) int {
	n := len(m)
	at := func(x, y int, transpose bool) bool {
		if transpose {
			return m[x][y]
		}
		return m[y][x]
	}
	score := 0
	finder := []bool{true, false, true, true, true, false, true}
	for _, tr := range []bool{false, true} {
		for y := range n {
			// N1: runs of five or more of one colour.
			run := 1
			for x := 1; x <= n; x++ {
				if x < n && at(x, y, tr) == at(x-1, y, tr) {
					run++
					continue
				}
				if run >= 5 {
					score += 3 + run - 5
				}
				run = 1
			}
			// N3: 1:1:3:1:1 finder-like pattern with four light modules on
			// one side (outside the symbol counts as light).
			for x := 0; x+7 <= n; x++ {
				match := true
				for i, d := range finder {
					if at(x+i, y, tr) != d {
						match = false
						break
					}
				}
				if !match {
					continue
				}
				light := func(from, to int) bool {
					for i := from; i < to; i++ {
						if i >= 0 && i < n && at(i, y, tr) {
							return false
						}
					}
					return true
				}
				if light(x-4, x) || light(x+7, x+11) {
					score += 40
				}
			}
		}
	}
	dark := 0
	for y := range n {
		for x := range n {
			if m[y][x] {
				dark++
			}
			// N2: 2 × 2 blocks of one colour.
			if x+1 < n && y+1 < n && m[y][x] == m[y][x+1] && m[y][x] == m[y+1][x] && m[y][x] == m[y+1][x+1] {
				score += 3
			}
		}
	}
	// N4: distance of the dark share from 50 %, in steps of 5 %.
	pct := dark * 100 / (n * n)
	dev := pct - 50
	if dev < 0 {
		dev = -dev
	}
	score += dev / 5 * 10
	return score
}
