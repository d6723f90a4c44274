package simprinter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"printstation/printer/raster"
)

// command is one parsed Evolis command.
type command struct {
	name   string
	params []string
	panel  *raster.Panel // Db, Dbc
}

func (c *command) param(i int) string {
	if i < len(c.params) {
		return c.params[i]
	}
	return ""
}

// errBadCommand is a framing or parameter error; the sim answers
// ERROR PARAMETRES and looks for the next ESC.
var errBadCommand = errors.New("bad command")

const maxLine = 256

// readCommand reads the next command from r. Bytes before an ESC are
// skipped. io errors are returned as they are.
func readCommand(r *bufio.Reader) (*command, error) {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if b == 0x1b {
			break
		}
	}
	c := &command{}
	// the command name runs to ';' or CR
	field, end, err := readField(r)
	if err != nil {
		return nil, err
	}
	c.name = field
	switch c.name {
	case "Db", "Dbc":
		if end != ';' {
			return c, fmt.Errorf("%s without parameters: %w", c.name, errBadCommand)
		}
		return c, readBitmap(r, c)
	}
	for end == ';' {
		field, end, err = readField(r)
		if err != nil {
			return nil, err
		}
		c.params = append(c.params, field)
		if len(c.params) > 16 {
			return c, fmt.Errorf("too many parameters: %w", errBadCommand)
		}
	}
	return c, nil
}

// readField reads up to ';' or CR.
func readField(r *bufio.Reader) (string, byte, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return "", 0, err
		}
		switch c {
		case ';', '\r':
			return string(b), c, nil
		case 0x1b:
			r.UnreadByte()
			return string(b), '\r', fmt.Errorf("command cut short: %w", errBadCommand)
		}
		if len(b) >= maxLine {
			return "", 0, fmt.Errorf("field too long: %w", errBadCommand)
		}
		b = append(b, c)
	}
}

func bitsFor(levels string) (int, int) {
	switch levels {
	case "2":
		return 2, 1
	case "32":
		return 32, 5
	case "64":
		return 64, 6
	case "128":
		return 128, 7
	}
	return 0, 0
}

// readBitmap reads Db;P;L;DATA CR or Dbc;P;L;N;DATA CR into c.panel.
func readBitmap(r *bufio.Reader, c *command) error {
	name, end, err := readField(r)
	if err != nil {
		return err
	}
	if end != ';' || len(name) != 1 || !validPanel(name[0]) {
		return fmt.Errorf("%s: panel %q: %w", c.name, name, errBadCommand)
	}
	lv, end, err := readField(r)
	if err != nil {
		return err
	}
	levels, bits := bitsFor(lv)
	if end != ';' || bits == 0 {
		return fmt.Errorf("%s: levels %q: %w", c.name, lv, errBadCommand)
	}
	size := raster.Lines * raster.Points * bits / 8
	p := &raster.Panel{Name: name[0], Levels: levels}
	if c.name == "Db" {
		// Grow with what arrives rather than trusting the header with half
		// a megabyte up front.
		var buf bytes.Buffer
		buf.Grow(min(size, 64<<10))
		if _, err := buf.ReadFrom(io.LimitReader(r, int64(size))); err != nil {
			return err
		}
		if buf.Len() < size {
			return io.ErrUnexpectedEOF
		}
		p.Data = buf.Bytes()
	} else {
		p.Data = make([]byte, size)
		if levels != 2 || (p.Name != 'k' && p.Name != 'o') {
			// The line form of guide §4 (page 5) is for K and O; Y, M
			// and C have another compression this simulator does not take.
			return fmt.Errorf("Dbc for panel %c with %d levels (the line form is for K and O at 2 levels): %w", p.Name, levels, errBadCommand)
		}
		ns, end, err := readField(r)
		if err != nil {
			return err
		}
		n, perr := strconv.Atoi(ns)
		lb := raster.Points / 8
		if end != ';' || perr != nil || n < raster.Lines || n > raster.Lines*(lb+1) {
			return fmt.Errorf("Dbc length %q: %w", ns, errBadCommand)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return err
		}
		if err := decompress(data, p.Data, lb); err != nil {
			return err
		}
	}
	t, err := r.ReadByte()
	if err != nil {
		return err
	}
	if t != '\r' {
		r.UnreadByte()
		return fmt.Errorf("%s: bitmap longer than a card: %w", c.name, errBadCommand)
	}
	c.panel = p
	return nil
}

func validPanel(b byte) bool {
	switch b {
	case 'y', 'm', 'c', 'k', 'o':
		return true
	}
	return false
}

// decompress undoes Dbc: per line 0 = white, 255 = black, N = N bytes follow.
func decompress(in, out []byte, lb int) error {
	line := 0
	for i := 0; i < len(in); {
		if line >= raster.Lines {
			return fmt.Errorf("Dbc data has more than %d lines: %w", raster.Lines, errBadCommand)
		}
		dst := out[line*lb : (line+1)*lb]
		switch n := int(in[i]); {
		case n == 0:
			i++
		case n == 255:
			for j := range dst {
				dst[j] = 0xff
			}
			i++
		case n <= lb:
			if i+1+n > len(in) {
				return fmt.Errorf("Dbc line %d cut short: %w", line, errBadCommand)
			}
			copy(dst, in[i+1:i+1+n])
			i += 1 + n
		default:
			return fmt.Errorf("Dbc line %d: length byte %d over %d: %w", line, n, lb, errBadCommand)
		}
		line++
	}
	if line != raster.Lines {
		return fmt.Errorf("Dbc data has %d lines, want %d: %w", line, raster.Lines, errBadCommand)
	}
	return nil
}
