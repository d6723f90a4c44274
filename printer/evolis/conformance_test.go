package evolis_test

// The conformance test does not trust the simulator, printer/raster or the
// driver's own encoder: a decoder written here from the guide (A5013 rev. E)
// reads the bytes the driver put on the wire back into a card image, with
// the orientation of the vendor's own driver stream (dpavlin/Printer-EVOLIS
// test.windows/), and compares it with the card the station meant to print.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"math"
	"strconv"
	"sync"
	"testing"

	"printstation/printer"
	"printstation/printer/evolis"
	"printstation/printer/raster"
	"printstation/printer/tcp"
	simprinter "printstation/sim/printer"
)

// Card geometry, guide §2 (page 4) and Db (page 14): 1016 lines of 648 points.
const (
	gLines  = 1016
	gPoints = 648
)

// wirePanel is one panel as the printer receives it.
type wirePanel struct {
	name   byte
	levels int
	vals   []int // gLines*gPoints values, line after line
}

// decodeWire reads a host→printer byte stream: ESC command (';' params) CR
// (guide §3 page 4); Db;panel;levels;data with the values packed most
// significant bit first and "each bit useful" (page 14); Dbc;panel;2;n;data
// with K/O lines as 0 (white), 255 (black) or N followed by N bytes (§4,
// page 5). Sr/Sv choose the side (page 43). Bytes between commands (NUL
// padding, as in the vendor capture) are skipped.
func decodeWire(b []byte) (cmds []string, sides [2][]wirePanel, err error) {
	side := 0
	for i := 0; i < len(b); {
		if b[i] != 0x1b {
			i++
			continue
		}
		i++
		j := i
		for j < len(b) && b[j] != ';' && b[j] != '\r' {
			j++
		}
		name := string(b[i:j])
		switch name {
		case "Db", "Dbc":
			fields := 2
			if name == "Dbc" {
				fields = 3
			}
			var f []string
			k := j + 1
			for len(f) < fields {
				e := bytes.IndexByte(b[k:], ';')
				if e < 0 {
					return nil, sides, fmt.Errorf("%s: header cut short", name)
				}
				f = append(f, string(b[k:k+e]))
				k += e + 1
			}
			levels, _ := strconv.Atoi(f[1])
			bits := map[int]int{2: 1, 32: 5, 64: 6, 128: 7}[levels]
			if len(f[0]) != 1 || bits == 0 {
				return nil, sides, fmt.Errorf("%s: panel %q levels %q", name, f[0], f[1])
			}
			var raw []byte
			if name == "Db" {
				n := gLines * gPoints * bits / 8
				if k+n >= len(b) || b[k+n] != '\r' {
					return nil, sides, fmt.Errorf("Db;%s: not %d bytes then CR", f[0], n)
				}
				raw, i = b[k:k+n], k+n+1
			} else {
				n, _ := strconv.Atoi(f[2])
				if levels != 2 || k+n >= len(b) || b[k+n] != '\r' {
					return nil, sides, fmt.Errorf("Dbc;%s: bad length or levels", f[0])
				}
				raw, i = undoLines(b[k:k+n]), k+n+1
				if raw == nil {
					return nil, sides, fmt.Errorf("Dbc;%s: line data does not make 1016 lines", f[0])
				}
			}
			p := wirePanel{name: f[0][0], levels: levels, vals: make([]int, gLines*gPoints)}
			for v := range p.vals {
				x := 0
				for bit := v * bits; bit < (v+1)*bits; bit++ {
					x = x<<1 | int(raw[bit/8]>>(7-bit%8)&1)
				}
				p.vals[v] = x
			}
			sides[side] = append(sides[side], p)
			cmds = append(cmds, name+";"+f[0])
		default:
			e := bytes.IndexByte(b[i:], '\r')
			if e < 0 {
				return nil, sides, fmt.Errorf("command %q has no CR", name)
			}
			cmd := string(b[i : i+e])
			i += e + 1
			switch cmd {
			case "Sr":
				side = 0
			case "Sv":
				side = 1
			}
			cmds = append(cmds, cmd)
		}
	}
	return cmds, sides, nil
}

// undoLines expands Dbc K/O line data to 81 bytes a line.
func undoLines(in []byte) []byte {
	out := make([]byte, 0, gLines*81)
	for i := 0; i < len(in); {
		switch c := int(in[i]); {
		case c == 0:
			out = append(out, make([]byte, 81)...)
			i++
		case c == 255:
			out = append(out, bytes.Repeat([]byte{0xff}, 81)...)
			i++
		case c <= 81 && i+1+c <= len(in):
			out = append(out, in[i+1:i+1+c]...)
			out = append(out, make([]byte, 81-c)...)
			i += 1 + c
		default:
			return nil
		}
	}
	if len(out) != gLines*81 {
		return nil
	}
	return out
}

// cardDot is where line n, point p lands on the card, landscape, origin top
// left: the vendor stream's layout (x = n, y = 647-p), or with mirrored
// set, the "top edge at point 0" reading this project used to have.
func cardDot(n, p int, mirrored bool) (x, y int) {
	if mirrored {
		return n, p
	}
	return n, gPoints - 1 - p
}

// panelError compares a decoded panel with the ink the card asks for:
// the mean absolute difference in 0…255 ink units over the dots the panel
// is meant for (Y, M, C: the dots not in the black layer), and the share
// of dots wrong for K and O.
func panelError(p wirePanel, img *image.RGBA, black *image.Gray, mirrored bool) float64 {
	var sum float64
	var count int
	max := float64(p.levels - 1)
	for n := 0; n < gLines; n++ {
		for pt := 0; pt < gPoints; pt++ {
			x, y := cardDot(n, pt, mirrored)
			v := float64(p.vals[n*gPoints+pt])
			isK := black.GrayAt(x, y).Y < 128
			c := img.RGBAAt(x, y)
			switch p.name {
			case 'k':
				want := 0.0
				if isK {
					want = 1
				}
				sum += math.Abs(v - want)
			case 'o':
				sum += math.Abs(v - 1) // the whole card is varnished
			default:
				if isK {
					continue // black dots print with K only
				}
				ch := map[byte]uint8{'c': c.R, 'm': c.G, 'y': c.B}[p.name]
				sum += math.Abs(v*255/max - float64(255-ch))
			}
			count++
		}
	}
	return sum / float64(count)
}

// conformanceCard records the driver's bytes for the test card, front only.
func conformanceCard(t *testing.T, opt raster.Options, compress bool) (*image.RGBA, *image.Gray, []byte) {
	t.Helper()
	img, black := testCard()
	front, err := raster.Convert(img, black, opt)
	if err != nil {
		t.Fatal(err)
	}
	sim := newSim(t, simprinter.Config{Feeder: 1, Ribbon: opt.Ribbon})
	var mu sync.Mutex
	var frames [][]byte
	dial := func(ctx context.Context) (printer.Conn, error) {
		return recConn{Conn: tcp.Wrap(sim.Pipe()), mu: &mu, frames: &frames, pending: new([]byte)}, nil
	}
	d, err := evolis.Open(context.Background(), "pipe", dial, printer.Options{Name: "p1", Compress: compress})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if step, err := cardFlow(context.Background(), d, front, false); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return img, black, bytes.Join(frames, nil)
}

// TestConformance decodes the driver's stream of a known card with the
// decoder above and compares it, panel by panel, with the card image. The
// same panels read the other way up (top edge at point 0) must be far off:
// that is what catches a mirrored card.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opt      raster.Options
		compress bool
		want     string // panels on the wire, in order
	}{
		{"ymcko-32-db", raster.Options{Ribbon: "ymcko", Levels: 32}, false, "ymcko"},
		{"ymcko-64-dbc", raster.Options{Ribbon: "ymcko", Levels: 64}, true, "ymcko"},
		{"ymcko-128-dbc", raster.Options{Ribbon: "ymcko", Levels: 128}, true, "ymcko"},
		{"ko-dbc", raster.Options{Ribbon: "ko"}, true, "ko"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, black, wire := conformanceCard(t, tc.opt, tc.compress)
			cmds, sides, err := decodeWire(wire)
			if err != nil {
				t.Fatalf("the stream does not decode by the guide: %v", err)
			}
			got := ""
			for _, p := range sides[0] {
				got += string(p.name)
			}
			if got != tc.want || len(sides[1]) != 0 {
				t.Fatalf("panels on the wire: front %q back %d; want %q (commands %v)", got, len(sides[1]), tc.want, cmds)
			}
			for _, p := range sides[0] {
				right := panelError(p, img, black, false)
				mirrored := panelError(p, img, black, true)
				t.Logf("panel %c (%d levels): mean error %.3f right way up, %.3f read mirrored", p.name, p.levels, right, mirrored)
				// Y, M, C: within half a level step (rounding); K, O: exact.
				limit := 0.0
				if p.name != 'k' && p.name != 'o' {
					limit = 127.5 / float64(p.levels-1)
				}
				if right > limit {
					t.Errorf("panel %c: mean error %.3f over %.3f", p.name, right, limit)
				}
				if p.name != 'o' && mirrored < right+1.0/float64(gPoints) {
					t.Errorf("panel %c: reading it mirrored is as good (%.3f) as the right way (%.3f): the test card cannot tell orientation", p.name, mirrored, right)
				}
			}
		})
	}
}
