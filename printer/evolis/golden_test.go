package evolis_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"printstation/internal/golden"
	"strings"
	"sync"
	"testing"

	"printstation/printer"
	"printstation/printer/raster"
	"printstation/printer/tcp"
	simprinter "printstation/sim/printer"
)

// recConn records every command: the writes before a reply is read (the
// driver writes a panel download in parts, then reads the printer's reply).
type recConn struct {
	printer.Conn
	mu      *sync.Mutex
	frames  *[][]byte
	pending *[]byte
}

func (c recConn) Write(ctx context.Context, p []byte) (int, error) {
	c.mu.Lock()
	*c.pending = append(*c.pending, p...)
	c.mu.Unlock()
	return c.Conn.Write(ctx, p)
}

func (c recConn) Read(ctx context.Context, p []byte) (int, error) {
	c.mu.Lock()
	if len(*c.pending) > 0 {
		*c.frames = append(*c.frames, *c.pending)
		*c.pending = nil
	}
	c.mu.Unlock()
	return c.Conn.Read(ctx, p)
}

// transcript renders frames one a line; bitmap data is replaced by its
// length and SHA-256 so the file stays readable and any change to the
// bytes still shows.
func transcript(frames [][]byte) string {
	var b strings.Builder
	total := 0
	for _, f := range frames {
		total += len(f)
		head, data := f, []byte(nil)
		if bytes.HasPrefix(f, []byte("\x1bDb")) {
			// header is up to the 3rd (Db) or 4th (Dbc) ';'
			n := 3
			if bytes.HasPrefix(f, []byte("\x1bDbc;")) {
				n = 4
			}
			i := 0
			for k := 0; k < n; k++ {
				i += bytes.IndexByte(f[i:], ';') + 1
			}
			head, data = f[:i], f[i:len(f)-1]
		}
		s := strings.ReplaceAll(strings.ReplaceAll(string(head), "\x1b", "<ESC>"), "\r", "<CR>")
		if data != nil {
			s += fmt.Sprintf("<%d bytes sha256:%x><CR>", len(data), sha256.Sum256(data))
		}
		fmt.Fprintln(&b, s)
	}
	fmt.Fprintf(&b, "# %d commands, %d bytes on the wire\n", len(frames), total)
	return b.String()
}

func TestGoldenCardStream(t *testing.T) {
	img, black := testCard()
	front, err := raster.Convert(img, black, raster.Options{Levels: 32})
	if err != nil {
		t.Fatal(err)
	}
	back, err := raster.Convert(img, black, raster.Options{Ribbon: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		compress bool
	}{{"card-ymcko-k", false}, {"card-ymcko-k-dbc", true}} {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, simprinter.Config{Feeder: 1})
			var mu sync.Mutex
			var frames [][]byte
			var pending []byte
			dial := func(ctx context.Context) (printer.Conn, error) {
				return recConn{Conn: tcp.Wrap(sim.Pipe()), mu: &mu, frames: &frames, pending: &pending}, nil
			}
			d, err := printer.Open(context.Background(), "evolis", "tcp://printer.invalid:9100",
				printer.Options{Name: "p1", Dial: dial, Compress: tc.compress})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ctx := context.Background()
			steps := []func() error{
				func() error { return d.Feed(ctx) },
				func() error { return d.MoveTo(ctx, printer.StationContactless) },
				func() error { return d.Print(ctx, printer.Front, front) },
				func() error { return d.Print(ctx, printer.Back, back) },
				func() error { return d.Eject(ctx) },
			}
			for _, s := range steps {
				if err := s(); err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			if len(pending) > 0 {
				frames = append(frames, pending)
			}
			mu.Unlock()
			got := transcript(frames)
			path := filepath.Join("testdata", tc.name+".golden")
			golden.Check(t, path, []byte(got))
		})
	}
}
