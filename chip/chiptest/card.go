// Package chiptest is an in-process software card and card reader for tests
// and for the demo (no pcscd). The card speaks the ISO 7816-4 subset that
// package chip sends (SELECT, CREATE FILE, UPDATE/READ BINARY, ACTIVATE FILE,
// GET RESPONSE-free answers) plus the PC/SC GET DATA UID command, and can be
// told to misbehave the ways real cards do.
package chiptest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"

	"printstation/chip"
)

// Config shapes a software card. The zero value is a short-APDU card with no
// UID answer.
type Config struct {
	UID []byte // answered to FF CA 00 00 00; nil: the card does not answer it
	// Extended announces extended Lc/Le in the ATR and accepts them.
	Extended bool
	// MaxChunk is the largest Lc/Le the card takes (larger: 6700). 0 means
	// 255 bytes of data, or 4096 with Extended.
	MaxChunk int
	// Applications are AIDs of DFs present on the blank, selectable with
	// SELECT by DF name.
	Applications [][]byte

	// Faults.
	RefuseWrites      uint16 // nonzero: every UPDATE BINARY answers this SW
	RefuseCreate      uint16 // nonzero: every CREATE FILE answers this SW
	Flip              *Flip  // store one byte wrong
	RemoveAfterWrites int    // >0: the card leaves the field after this many UPDATE BINARY
}

// Flip makes the card store byte Offset of file FID inverted: a chip that
// took the write but holds the wrong data.
type Flip struct {
	FID    uint16
	Offset int
}

// Card is a software ISO 7816-4 card.
type Card struct {
	cfg Config

	mu      sync.Mutex
	gone    bool // removed from its reader
	mf      *node
	curDF   *node
	curEF   *node
	writes  int
	history []byte // INS of every command received, for tests
}

type node struct {
	fid      uint16
	aid      []byte
	df       bool
	children []*node
	parent   *node
	data     []byte
	locked   bool
}

// NewCard returns a blank card.
func NewCard(cfg Config) *Card {
	mf := &node{fid: 0x3F00, df: true}
	for i, aid := range cfg.Applications {
		mf.children = append(mf.children, &node{fid: 0xDF01 + uint16(i), aid: bytes.Clone(aid), df: true, parent: mf})
	}
	return &Card{cfg: cfg, mf: mf, curDF: mf}
}

func (c *Card) maxChunk() int {
	switch {
	case c.cfg.MaxChunk > 0:
		return c.cfg.MaxChunk
	case c.cfg.Extended:
		return 4096
	}
	return 255
}

// ATR is the card's Answer To Reset: T=1, with card capabilities in the
// historical bytes saying whether extended length is supported.
func (c *Card) ATR() []byte {
	sft3 := byte(0)
	if c.cfg.Extended {
		sft3 = 0x40
	}
	hist := []byte{0x80, 0x73, 0x00, 0x21, sft3}
	atr := []byte{0x3B, 0x80 | byte(len(hist)), 0x01}
	atr = append(atr, hist...)
	tck := byte(0)
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}

// File returns the content of the EF with this FID anywhere on the card.
func (c *Card) File(fid uint16) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := find(c.mf, fid)
	if n == nil || n.df {
		return nil, false
	}
	return bytes.Clone(n.data), true
}

// Locked says whether ACTIVATE FILE was applied to the EF.
func (c *Card) Locked(fid uint16) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := find(c.mf, fid)
	return n != nil && n.locked
}

// FIDs lists the EFs on the card, sorted.
func (c *Card) FIDs() []uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []uint16
	var walk func(*node)
	walk = func(n *node) {
		for _, ch := range n.children {
			if ch.df {
				walk(ch)
			} else {
				out = append(out, ch.fid)
			}
		}
	}
	walk(c.mf)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Writes is the number of UPDATE BINARY commands the card carried out.
func (c *Card) Writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// Received lists the INS byte of every command the card got, in order.
func (c *Card) Received() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.history)
}

// SetFault changes the fault configuration of a card already inserted.
func (c *Card) SetFault(f func(*Config)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.cfg)
}

func find(dir *node, fid uint16) *node {
	for _, ch := range dir.children {
		if ch.fid == fid {
			return ch
		}
		if ch.df {
			if n := find(ch, fid); n != nil {
				return n
			}
		}
	}
	return nil
}

func sw(s uint16) []byte { return []byte{byte(s >> 8), byte(s)} }

// Transmit runs one command APDU. It honours ctx like a reader would: a
// cancelled context gets no answer.
func (c *Card) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return nil, chip.ErrCardRemoved
	}
	resp := c.execute(apdu)
	return resp, nil
}

type capdu struct {
	cla, ins, p1, p2 byte
	data             []byte
	le               int // -1 none
	extended         bool
}

// parseCommand decodes the four ISO 7816-3 cases, short and extended.
func parseCommand(b []byte) (capdu, bool) {
	if len(b) < 4 {
		return capdu{}, false
	}
	c := capdu{cla: b[0], ins: b[1], p1: b[2], p2: b[3], le: -1}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2S
		c.le = int(body[0])
		if c.le == 0 {
			c.le = 256
		}
	case body[0] != 0 || len(body) < 3: // short case 3 / 4
		lc := int(body[0])
		if lc == 0 {
			return capdu{}, false
		}
		switch len(body) {
		case 1 + lc:
		case 2 + lc:
			c.le = int(body[1+lc])
			if c.le == 0 {
				c.le = 256
			}
		default:
			return capdu{}, false
		}
		c.data = body[1 : 1+lc]
	default: // extended: body[0] == 0 and at least 3 bytes
		c.extended = true
		n := int(body[1])<<8 | int(body[2])
		if len(body) == 3 { // case 2E
			c.le = n
			if c.le == 0 {
				c.le = 65536
			}
			break
		}
		if n == 0 {
			return capdu{}, false
		}
		switch len(body) {
		case 3 + n:
		case 5 + n:
			c.le = int(body[3+n])<<8 | int(body[4+n])
			if c.le == 0 {
				c.le = 65536
			}
		default:
			return capdu{}, false
		}
		c.data = body[3 : 3+n]
	}
	return c, true
}

func (c *Card) execute(apdu []byte) []byte {
	cmd, ok := parseCommand(apdu)
	if !ok {
		return sw(chip.SWWrongLength)
	}
	c.history = append(c.history, cmd.ins)
	if cmd.extended && !c.cfg.Extended {
		return sw(chip.SWWrongLength)
	}
	if cmd.cla == 0xFF {
		if cmd.ins == chip.InsGetData && cmd.p1 == 0 && cmd.p2 == 0 && c.cfg.UID != nil {
			return append(bytes.Clone(c.cfg.UID), 0x90, 0x00)
		}
		return sw(chip.SWClaUnsupported)
	}
	if cmd.cla != 0x00 {
		return sw(chip.SWClaUnsupported)
	}
	if len(cmd.data) > c.maxChunk() || (cmd.ins == chip.InsRead && cmd.le > c.maxChunk()+1) {
		// +1: a short Le of 256 is the normal way to ask for "all", and
		// a 255-byte card still answers it.
		return sw(chip.SWWrongLength)
	}
	switch cmd.ins {
	case chip.InsSelect:
		return c.selectCmd(cmd)
	case chip.InsCreateFile:
		return c.create(cmd)
	case chip.InsUpdate:
		return c.update(cmd)
	case chip.InsRead:
		return c.read(cmd)
	case chip.InsActivate:
		if c.curEF == nil {
			return sw(0x6986)
		}
		c.curEF.locked = true
		return sw(chip.SWOK)
	}
	return sw(chip.SWInsUnsupported)
}

func (c *Card) selectCmd(cmd capdu) []byte {
	var target *node
	switch cmd.p1 {
	case 0x00, 0x02:
		if len(cmd.data) != 2 {
			return sw(chip.SWWrongData)
		}
		fid := uint16(cmd.data[0])<<8 | uint16(cmd.data[1])
		if fid == 0x3F00 && cmd.p1 == 0 {
			target = c.mf
			break
		}
		for _, ch := range c.curDF.children {
			if ch.fid == fid {
				target = ch
			}
		}
	case 0x04:
		for _, ch := range c.mf.children {
			if ch.df && ch.aid != nil && bytes.Equal(ch.aid, cmd.data) {
				target = ch
			}
		}
	default:
		return sw(chip.SWWrongP1P2)
	}
	if target == nil {
		return sw(chip.SWFileNotFound)
	}
	if target.df {
		c.curDF, c.curEF = target, nil
	} else {
		c.curEF = target
	}
	if cmd.p2&0x0C == 0x0C {
		return sw(chip.SWOK)
	}
	fcp := []byte{0x83, 0x02, byte(target.fid >> 8), byte(target.fid)}
	if target.df {
		fcp = append(fcp, 0x82, 0x01, 0x38)
	} else {
		n := len(target.data)
		fcp = append(fcp, 0x82, 0x01, 0x01, 0x80, 0x02, byte(n>>8), byte(n))
	}
	lcs := byte(0x05)
	if target.locked {
		lcs = 0x07 // operational, deactivated for updates in this model
	}
	fcp = append(fcp, 0x8A, 0x01, lcs)
	resp := append([]byte{0x62, byte(len(fcp))}, fcp...)
	if cmd.le > 0 && len(resp) > cmd.le {
		return sw(0x6C00 | uint16(len(resp)))
	}
	return append(resp, 0x90, 0x00)
}

func (c *Card) create(cmd capdu) []byte {
	if c.cfg.RefuseCreate != 0 {
		return sw(c.cfg.RefuseCreate)
	}
	d := cmd.data
	if len(d) < 2 || d[0] != 0x62 || int(d[1]) != len(d)-2 {
		return sw(chip.SWWrongData)
	}
	var fid uint16
	var haveFID, haveFDB bool
	size := 0
	for t := d[2:]; len(t) > 0; {
		if len(t) < 2 || int(t[1]) > len(t)-2 {
			return sw(chip.SWWrongData)
		}
		tag, v := t[0], t[2:2+int(t[1])]
		t = t[2+int(t[1]):]
		switch tag {
		case 0x82:
			if len(v) < 1 || v[0]&0x07 != 0x01 {
				return sw(chip.SWWrongData) // only transparent EFs here
			}
			haveFDB = true
		case 0x83:
			if len(v) != 2 {
				return sw(chip.SWWrongData)
			}
			fid, haveFID = uint16(v[0])<<8|uint16(v[1]), true
		case 0x80:
			size = 0
			for _, b := range v {
				size = size<<8 | int(b)
			}
		}
	}
	if !haveFID || !haveFDB {
		return sw(chip.SWWrongData)
	}
	for _, ch := range c.curDF.children {
		if ch.fid == fid {
			return sw(chip.SWFileExists)
		}
	}
	n := &node{fid: fid, parent: c.curDF, data: make([]byte, size)}
	c.curDF.children = append(c.curDF.children, n)
	c.curEF = n
	return sw(chip.SWOK)
}

func (c *Card) update(cmd capdu) []byte {
	if c.curEF == nil {
		return sw(0x6986) // no current EF
	}
	if c.cfg.RefuseWrites != 0 {
		return sw(c.cfg.RefuseWrites)
	}
	if c.curEF.locked {
		return sw(chip.SWSecurity)
	}
	off := int(cmd.p1&0x7F)<<8 | int(cmd.p2)
	if cmd.p1&0x80 != 0 {
		return sw(chip.SWFuncUnsupported) // short EF ids not modelled
	}
	ef := c.curEF
	if off > len(ef.data) {
		return sw(chip.SWWrongOffset)
	}
	if off+len(cmd.data) > len(ef.data) {
		return sw(chip.SWNotEnoughMem)
	}
	copy(ef.data[off:], cmd.data)
	if f := c.cfg.Flip; f != nil && f.FID == ef.fid && f.Offset >= off && f.Offset < off+len(cmd.data) {
		ef.data[f.Offset] ^= 0xFF
	}
	c.writes++
	if c.cfg.RemoveAfterWrites > 0 && c.writes >= c.cfg.RemoveAfterWrites {
		c.gone = true // pulled out of the field right after this write
	}
	return sw(chip.SWOK)
}

func (c *Card) read(cmd capdu) []byte {
	if c.curEF == nil {
		return sw(0x6986)
	}
	if cmd.p1&0x80 != 0 {
		return sw(chip.SWFuncUnsupported)
	}
	off := int(cmd.p1)<<8 | int(cmd.p2)
	ef := c.curEF
	if off > len(ef.data) || (off == len(ef.data) && off > 0) {
		return sw(chip.SWWrongOffset)
	}
	le := cmd.le
	if le < 0 {
		return sw(chip.SWWrongLength)
	}
	end := min(off+le, len(ef.data))
	out := append(bytes.Clone(ef.data[off:end]), 0x90, 0x00)
	if end-off < le {
		out[len(out)-2], out[len(out)-1] = 0x62, 0x82
	}
	return out
}

// String names the card for test failures (no content).
func (c *Card) String() string {
	return fmt.Sprintf("software card (uid %X)", c.cfg.UID)
}

// Profile8K is a realistic e-KTP-sized personalization for tests and
// benchmarks: 8 KiB over four files of the master file.
func Profile8K() chip.Personalization {
	var p chip.Personalization
	for i, n := range []int{4096, 2048, 1500, 548} {
		d := make([]byte, n)
		for j := range d {
			d[j] = byte(j*7 + i*13)
		}
		p.Files = append(p.Files, chip.File{FID: 0x0101 + uint16(i), Data: d})
	}
	return p
}
