package simprinter

import (
	"bufio"
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// vendorStream builds a host stream in the format of the vendor's Windows
// driver captures (github dpavlin/Printer-EVOLIS, test.windows/, a Dualys 3
// with a black ribbon): the same settings before Ss, one Dbc;k;2;LEN K
// panel, NUL padding, "Se;1", NUL padding. The stream is generated here
// from card (landscape, true = black) the way that project's driver lays
// it out: the card turned 90° clockwise ("pnmflip -rotate270"), each row
// of the turned image one line, 648 points packed 8 to a byte, and Dbc's
// 0 / 255 / N-bytes line form. No third-party bytes are used.
func vendorStream(card [][]bool) []byte {
	var lines []byte
	for n := 0; n < cardLines; n++ { // row n of the turned image
		line := make([]byte, cardPoints/8)
		for c := 0; c < cardPoints; c++ { // column c of the turned image
			if card[cardPoints-1-c][n] { // turned 90° clockwise: (x=n, y=647-c)
				line[c/8] |= 0x80 >> (c % 8)
			}
		}
		end := len(line)
		for end > 0 && line[end-1] == 0 {
			end--
		}
		switch {
		case end == 0:
			lines = append(lines, 0)
		case bytes.Equal(line, bytes.Repeat([]byte{0xff}, len(line))):
			lines = append(lines, 0xff)
		default:
			lines = append(lines, byte(end))
			lines = append(lines, line[:end]...)
		}
	}
	var b bytes.Buffer
	for _, c := range []string{"Pr;k", "Pmi;F;s", "Pc;k;=;10", "Pdt;DU", "Mr;s", "Ppws;1281754918", "Ss", "Sr"} {
		b.WriteString("\x1b" + c + "\r")
	}
	b.WriteString("\x1bDbc;k;2;" + strconv.Itoa(len(lines)) + ";")
	b.Write(lines)
	b.WriteString("\r")
	b.Write(make([]byte, 26))
	b.WriteString("\x1bSe;1\r")
	b.Write(make([]byte, 64))
	return b.Bytes()
}

// A stream in the vendor capture's format comes out of the simulator the
// right way up: every dot where the card has it, none mirrored.
func TestVendorCaptureFormat(t *testing.T) {
	// The card: a letter-like shape that is different mirrored either
	// way — a bar along the top edge from the left, a stem down the left
	// side, a short foot at the bottom right.
	card := make([][]bool, cardPoints)
	for y := range card {
		card[y] = make([]bool, cardLines)
		for x := range card[y] {
			card[y][x] = (y < 40 && x < 600) || (x < 50 && y < 500) || (y >= 600 && x >= 900)
		}
	}
	dir := t.TempDir()
	s, err := Open(Config{OutDir: dir, Ribbon: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.Pipe()
	defer c.Close()
	stream := vendorStream(card)
	go c.Write(stream)
	r := bufio.NewReader(c)
	for i := 0; i < 10; i++ { // ten commands, ten replies
		line, err := r.ReadString('\r')
		if err != nil || line != "OK\r" {
			t.Fatalf("reply %d: %q, %v", i+1, line, err)
		}
	}
	f, err := os.Open(filepath.Join(dir, "card-000001-front.png"))
	if err != nil {
		t.Fatalf("no card came out: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	wrong, mirrored := 0, 0
	for y := 0; y < cardPoints; y++ {
		for x := 0; x < cardLines; x++ {
			if inked(img, x, y) != card[y][x] {
				wrong++
			}
			if inked(img, x, cardPoints-1-y) != card[y][x] {
				mirrored++
			}
		}
	}
	t.Logf("%d of %d dots differ from the card; %d would differ read mirrored", wrong, cardLines*cardPoints, mirrored)
	if wrong != 0 {
		t.Errorf("%d dots differ from the card (%d would differ read mirrored)", wrong, mirrored)
	}
	if mirrored == 0 {
		t.Fatalf("the test card reads the same mirrored; it cannot tell orientation")
	}
	if sn := s.Snapshot(); sn.CardsInserted != 1 || sn.PanelsPrinted != 1 || sn.Misprints != 0 {
		t.Errorf("one blank, one panel, no misprint expected: %+v", sn.State)
	}
}

func inked(img image.Image, x, y int) bool {
	r, _, _, _ := img.At(x, y).RGBA()
	return r < 0x8000
}
