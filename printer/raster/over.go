package raster

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"sync"
)

// Most of a card is its template's static part (card.StaticLayers: the
// background, shapes and labels, drawn once per template). ConvertOver
// converts that part once per static image and options, keeps its panels,
// and for each card converts only the 8 × 8-dot tiles whose pixels differ
// from the static image's, copying the kept bytes everywhere else.
//
// Why a tile can be copied: a point's value on every panel depends only on
// that dot's colour pixel and K pixel and on the options (the overlay on
// the options alone), and a tile of 8 image columns × 8 image rows is 8
// panel lines × 8 points, which at 1, 5, 6 or 7 bits a point is a whole
// number of bytes of each line (Width, Height and both orientations keep
// tiles on multiples of 8). So a tile whose pixels equal the static
// image's has, byte for byte, the static image's panel bytes. The
// comparison is of the pixel memory itself, nothing the renderer reports:
// the result is Convert's whatever changed (TestConvertOverIsConvert).

// maxStatics bounds the cache of converted static images: a station has
// one or two templates and one ribbon per printer; an entry holds the
// panels of one side (≈ 1.4 MB at 32 levels) and keeps the static images
// it was made from alive.
const maxStatics = 4

type staticEntry struct {
	col  *image.RGBA
	blk  *image.Gray // nil: the static part has no K layer
	key  string      // the options, defaults filled in
	once sync.Once
	ps   *Panels
	err  error
}

var statics = struct {
	sync.Mutex
	list []*staticEntry // most recently used last
}{}

// optionsKey names the options a conversion depends on, defaults filled.
func optionsKey(opt Options) string {
	if opt.Levels == 0 {
		opt.Levels = 32
	}
	if opt.Ribbon == "" {
		opt.Ribbon = "ymcko"
	}
	return fmt.Sprintf("%d/%s/%d/%v/%v", opt.Levels, opt.Ribbon, opt.BlackThreshold, opt.Rotate180, opt.NoVarnish)
}

// staticPanels returns the panels of the static images under opt,
// converting them the first time. The entry holds the very images (not a
// name for them), so it can only ever describe those pixels.
func staticPanels(col *image.RGBA, blk *image.Gray, opt Options) (*staticEntry, error) {
	key := optionsKey(opt)
	statics.Lock()
	var e *staticEntry
	for i, s := range statics.list {
		if s.col == col && s.blk == blk && s.key == key {
			e = s
			statics.list = append(append(statics.list[:i:i], statics.list[i+1:]...), s)
			break
		}
	}
	if e == nil {
		if len(statics.list) >= maxStatics {
			statics.list = statics.list[1:]
		}
		e = &staticEntry{col: col, blk: blk, key: key}
		statics.list = append(statics.list, e)
	}
	statics.Unlock()
	e.once.Do(func() {
		var k image.Image
		if blk != nil {
			k = blk
		}
		e.ps, e.err = Convert(col, k, opt)
	})
	return e, e.err
}

// overOnly is switched off by tests and benchmarks to compare.
var overOnly = true

// ConvertOver is Convert(img, black, opt) for a card drawn over a static
// image: base and baseBlack are the template's static layers the card was
// drawn on (card.StaticLayers; baseBlack nil when the card has no K layer).
// The result is Convert's whatever the images are; it is only faster when
// most tiles equal the base's. base and baseBlack must not change after
// the first call that names them: their conversion is kept.
func ConvertOver(img, black image.Image, base *image.RGBA, baseBlack *image.Gray, opt Options) (*Panels, error) {
	var r Reuse // fresh: the static panels copied whole, every tile looked at
	return ConvertOverInto(&r, img, black, base, baseBlack, nil, opt)
}

// Reuse holds a card's panels from one ConvertOverInto to the next, so
// that a station converting card after card of one template neither
// allocates ≈ 1.4 MB of panels a card nor copies the static panels whole:
// only the tiles of the varying regions are put back and redone. Not safe
// for concurrent use.
type Reuse struct {
	ps      Panels
	from    *staticEntry // the static conversion ps holds outside written; nil: none
	written tiles        // the tiles the last call wrote: everywhere else ps is from's
	prev    tiles        // scratch: written, while the next call runs
}

// tiles marks 8 × 8-dot tiles of a card, by tile row and column.
type tiles [Height / 8][Width / 8]bool

// ConvertOverInto is ConvertOver for a card that can differ from base and
// baseBlack only inside regions (card.Canvas.Drawn; nil: anywhere), into
// r's panels: the result is Convert's for such a card, and it is r's own —
// it changes with r's next call. Tiles outside the regions are neither
// compared nor written.
func ConvertOverInto(r *Reuse, img, black image.Image, base *image.RGBA, baseBlack *image.Gray, regions []image.Rectangle, opt Options) (*Panels, error) {
	rgba, ok := img.(*image.RGBA)
	gray, gok := black.(*image.Gray)
	if black == nil {
		gray, gok = nil, true
	}
	if !ok || !gok || base == nil || (gray == nil) != (baseBlack == nil) || generalOnly || !overOnly ||
		checkSize("card image", img) != nil || checkSize("static image", base) != nil ||
		(baseBlack != nil && checkSize("static black layer", baseBlack) != nil) {
		r.from = nil
		return Convert(img, black, opt)
	}
	if gray != nil {
		if err := checkSize("black layer", gray); err != nil {
			return nil, err
		}
	}
	e, err := staticPanels(base, baseBlack, opt)
	if err != nil {
		return nil, err
	}
	if opt.Levels == 0 {
		opt.Levels = 32
	}
	mask := tileMask(regions)
	prev := &r.prev
	if r.from != e {
		// Another static conversion is in r: all of this one.
		r.from = nil
		copyPanels(&r.ps, e.ps)
		prev = nil
	} else {
		*prev = r.written
	}
	r.from = e
	r.written = tiles{}
	convertTiles(rgba, gray, base, baseBlack, opt, &r.ps, mask, &r.written, prev, e.ps)
	return &r.ps, nil
}

// tileMask marks the 8 × 8 tiles that meet any of regions (image
// coordinates of the card at the origin); every tile when regions is nil.
func tileMask(regions []image.Rectangle) *tiles {
	var m tiles
	if regions == nil {
		for ty := range m {
			for tx := range m[ty] {
				m[ty][tx] = true
			}
		}
		return &m
	}
	card := image.Rect(0, 0, Width, Height)
	for _, rg := range regions {
		rg = rg.Intersect(card)
		if rg.Empty() {
			continue
		}
		for ty := rg.Min.Y / 8; ty <= (rg.Max.Y-1)/8; ty++ {
			for tx := rg.Min.X / 8; tx <= (rg.Max.X-1)/8; tx++ {
				m[ty][tx] = true
			}
		}
	}
	return &m
}

// copyPanels makes dst a copy of src, reusing dst's memory.
func copyPanels(dst *Panels, src *Panels) {
	c := func(d **Panel, s *Panel) {
		if s == nil {
			*d = nil
			return
		}
		if *d == nil {
			*d = &Panel{}
		}
		(*d).Name, (*d).Levels = s.Name, s.Levels
		(*d).Data = append((*d).Data[:0], s.Data...)
	}
	c(&dst.Y, src.Y)
	c(&dst.M, src.M)
	c(&dst.C, src.C)
	c(&dst.K, src.K)
	c(&dst.O, src.O)
}

// restoreTiles copies the bytes of every marked tile from src into dst:
// per tile, its 8 lines' chunk of 8 points on Y, M, C and K (the overlay
// depends on the options alone: no tile ever changes it). A run of marked
// tiles down a tile column is a run of chunks in each of its lines: one
// copy per line and panel.
func restoreTiles(dst, src *Panels, marked *tiles, opt Options) {
	nb := bitsFor(opt.Levels)
	lineBytes := Points * nb / 8
	chunk := func(ty int) int {
		_, pt := place(0, 8*ty, opt.Rotate180)
		return pt / 8
	}
	const th, tw = Height / 8, Width / 8
	for tx := range tw {
		for ty := 0; ty < th; {
			if !marked[ty][tx] {
				ty++
				continue
			}
			lo := ty
			for ty < th && marked[ty][tx] {
				ty++
			}
			c0, c1 := chunk(lo), chunk(ty-1)
			if c0 > c1 {
				c0, c1 = c1, c0
			}
			c1++ // chunks [c0, c1)
			for j := range 8 {
				n, _ := place(8*tx+j, 0, opt.Rotate180)
				k := n * Points / 8
				copy(dst.K.Data[k+c0:k+c1], src.K.Data[k+c0:k+c1])
				if dst.Y == nil {
					continue
				}
				o := n * lineBytes
				a, b := o+c0*nb, o+c1*nb
				copy(dst.Y.Data[a:b], src.Y.Data[a:b])
				copy(dst.M.Data[a:b], src.M.Data[a:b])
				copy(dst.C.Data[a:b], src.C.Data[a:b])
			}
		}
	}
}

// convertTiles rewrites, in ps (the base's panels on every tile of mask;
// nil: every tile), the bytes of every masked tile where img or black
// differ from base or baseBlack, with the same per-dot arithmetic as
// convertFast, and marks them in written (when not nil). prev, when not
// nil, marks tiles of ps that hold another card's bytes: those this card
// leaves equal to the base get static's bytes back (a tile whose colour
// differs is rewritten whole, so it needs none). The images are compared row by row, in memory order (a
// column-wise walk was twice as slow: each row of a tile is a different
// cache line); only the masked tiles of each row.
func convertTiles(img *image.RGBA, black *image.Gray, base *image.RGBA, baseBlack *image.Gray, opt Options, ps *Panels, mask, written, prev *tiles, static *Panels) {
	const tw, th = Width / 8, Height / 8
	// Tiles whose colour pixels differ, and tiles whose K dots do.
	var changed, kChanged [th][tw]bool
	// Per tile row, the masked tile columns as runs [lo, hi).
	var runs [th][][2]int
	for ty := range runs {
		if mask == nil {
			runs[ty] = [][2]int{{0, tw}}
			continue
		}
		for tx := 0; tx < tw; {
			if !mask[ty][tx] {
				tx++
				continue
			}
			lo := tx
			for tx < tw && mask[ty][tx] {
				tx++
			}
			runs[ty] = append(runs[ty], [2]int{lo, tx})
		}
	}
	ib, bb := img.Bounds(), base.Bounds()
	var kb, kbb image.Rectangle
	if black != nil {
		kb, kbb = black.Bounds(), baseBlack.Bounds()
	}
	for y := 0; y < Height; y++ {
		row := &changed[y/8]
		a0 := img.Pix[img.PixOffset(ib.Min.X, ib.Min.Y+y):]
		b0 := base.Pix[base.PixOffset(bb.Min.X, bb.Min.Y+y):]
		a0, b0 = a0[:4*Width:4*Width], b0[:4*Width:4*Width]
		var ka0, kb0 []uint8
		if black != nil {
			ka0 = black.Pix[black.PixOffset(kb.Min.X, kb.Min.Y+y):]
			kb0 = baseBlack.Pix[baseBlack.PixOffset(kbb.Min.X, kbb.Min.Y+y):]
			ka0, kb0 = ka0[:Width:Width], kb0[:Width:Width]
		}
		for _, run := range runs[y/8] {
			if a, b := a0[32*run[0]:32*run[1]], b0[32*run[0]:32*run[1]]; !bytes.Equal(a, b) {
				for tx := run[0]; tx < run[1]; tx++ {
					if row[tx] {
						continue
					}
					a, b := a0[32*tx:32*tx+32:32*tx+32], b0[32*tx:32*tx+32:32*tx+32]
					row[tx] = binary.LittleEndian.Uint64(a[0:]) != binary.LittleEndian.Uint64(b[0:]) ||
						binary.LittleEndian.Uint64(a[8:]) != binary.LittleEndian.Uint64(b[8:]) ||
						binary.LittleEndian.Uint64(a[16:]) != binary.LittleEndian.Uint64(b[16:]) ||
						binary.LittleEndian.Uint64(a[24:]) != binary.LittleEndian.Uint64(b[24:])
				}
			}
			if black == nil {
				continue
			}
			if bytes.Equal(ka0[8*run[0]:8*run[1]], kb0[8*run[0]:8*run[1]]) {
				continue
			}
			krow := &kChanged[y/8]
			for tx := run[0]; tx < run[1]; tx++ {
				if !krow[tx] {
					krow[tx] = binary.LittleEndian.Uint64(ka0[8*tx:8*tx+8]) != binary.LittleEndian.Uint64(kb0[8*tx:8*tx+8])
				}
			}
		}
	}

	if prev != nil {
		// The previous card's tiles this one does not rewrite whole: back
		// to the static bytes (a K-only tile is redone from them).
		for ty := range prev {
			for tx := range prev[ty] {
				prev[ty][tx] = prev[ty][tx] && !changed[ty][tx]
			}
		}
		restoreTiles(ps, static, prev, opt)
	}
	nb := bitsFor(opt.Levels) // bytes of 8 points
	bits := uint(nb)
	max := opt.Levels - 1
	var lut [256]uint8
	for v := range lut {
		lut[v] = uint8(scale(0xff-uint8(v), max))
	}
	color := ps.Y != nil
	lineBytes := Points * nb / 8
	thr := opt.BlackThreshold
	// Chunk c of the lines and the point within it of each row of a tile
	// row, per tile row.
	var chunk [th]int
	var rowsOf [th][8]int
	for ty := range chunk {
		_, pt := place(0, 8*ty, opt.Rotate180)
		chunk[ty] = pt / 8
		for r := range 8 {
			_, pt := place(0, 8*ty+r, opt.Rotate180)
			rowsOf[ty][pt-8*chunk[ty]] = r
		}
	}
	// Tile columns outer: the bytes written stay within the tile's 8
	// panel lines while the column is done.
	for tx := range tw {
		for ty := range th {
			if !changed[ty][tx] && !kChanged[ty][tx] {
				continue
			}
			if written != nil {
				written[ty][tx] = true
			}
			y0, c, rowOf := 8*ty, chunk[ty], &rowsOf[ty]
			if !changed[ty][tx] && kOnly(black, ps, opt, tx, ty, c, rowOf, lineBytes, nb) {
				continue
			}
			// The tile's 8 rows of colour pixels and of K dots.
			var rows [8][]uint8
			var krows [8][]uint8
			for r := range rows {
				o := img.PixOffset(ib.Min.X+8*tx, ib.Min.Y+y0+r)
				rows[r] = img.Pix[o : o+32 : o+32]
				if black != nil {
					o := black.PixOffset(kb.Min.X+8*tx, kb.Min.Y+y0+r)
					krows[r] = black.Pix[o : o+8 : o+8]
				}
			}
			// Each line's eight points accumulated most significant
			// first (point i of the chunk is row rowOf[i] of the tile).
			var ay, am, ac [8]uint64
			var ak [8]uint8
			for _, r := range rowOf {
				row := rows[r]
				if black != nil {
					krow := krows[r]
					for j := range 8 {
						p := row[4*j : 4*j+4 : 4*j+4]
						r0, g, b := p[0], p[1], p[2]
						if a := p[3]; a != 0xff { // premultiplied: composite on white
							r0, g, b = r0+0xff-a, g+0xff-a, b+0xff-a
						}
						// No branch on the K dot, as in convertFast.
						k := uint8(0)
						if krow[j] < 128 {
							k = 1
						}
						km := -k
						ak[j] = ak[j]<<1 | k
						ay[j] = ay[j]<<bits | uint64(lut[b]&^km)
						am[j] = am[j]<<bits | uint64(lut[g]&^km)
						ac[j] = ac[j]<<bits | uint64(lut[r0]&^km)
					}
					continue
				}
				for j := range 8 {
					p := row[4*j : 4*j+4 : 4*j+4]
					r0, g, b := p[0], p[1], p[2]
					if a := p[3]; a != 0xff { // premultiplied: composite on white
						r0, g, b = r0+0xff-a, g+0xff-a, b+0xff-a
					}
					if thr > 0 && r0 < thr && g < thr && b < thr {
						ak[j] = ak[j]<<1 | 1
						ay[j], am[j], ac[j] = ay[j]<<bits, am[j]<<bits, ac[j]<<bits
					} else {
						ak[j] <<= 1
						ay[j] = ay[j]<<bits | uint64(lut[b])
						am[j] = am[j]<<bits | uint64(lut[g])
						ac[j] = ac[j]<<bits | uint64(lut[r0])
					}
				}
			}
			for j := range 8 {
				n, _ := place(8*tx+j, 0, opt.Rotate180)
				ps.K.Data[n*Points/8+c] = ak[j]
				if !color {
					continue
				}
				o := n*lineBytes + c*nb
				y, m, cy := ps.Y.Data[o:o+nb:o+nb], ps.M.Data[o:o+nb:o+nb], ps.C.Data[o:o+nb:o+nb]
				for q := range nb {
					sh := 8 * uint(nb-1-q)
					y[q], m[q], cy[q] = byte(ay[j]>>sh), byte(am[j]>>sh), byte(ac[j]>>sh)
				}
			}
		}
	}
}

// kOnly redoes a tile whose colour pixels equal the base's and whose K
// dots do not, when the base has no resin on it: there the base's colour
// bytes are the colour pixels' levels, and the card's are the same with
// the points under resin cleared (convertFast clears the colour under a
// K dot). It says false, touching nothing, when the base has resin on the
// tile (its colour bytes are cleared there: the tile needs the pixels).
func kOnly(black *image.Gray, ps *Panels, opt Options, tx, ty, c int, rowOf *[8]int, lineBytes, nb int) bool {
	var ns [8]int
	for j := range ns {
		ns[j], _ = place(8*tx+j, 0, opt.Rotate180)
		if ps.K.Data[ns[j]*Points/8+c] != 0 {
			return false
		}
	}
	// The 8 K bytes at once: in row r's 8 dots read as one little-endian
	// word, bit 7 of byte j is set where dot j has no resin (≥ 128), so
	// ^word & 0x80… marks the resin dots; shifted right by i it lands on
	// bit 7-i of byte j, where point i of line j goes (most significant
	// first). Each shift stays inside its byte: no dot spills over.
	kb := black.Bounds()
	var t uint64
	for i, r := range rowOf {
		o := black.PixOffset(kb.Min.X+8*tx, kb.Min.Y+8*ty+r)
		t |= (^binary.LittleEndian.Uint64(black.Pix[o:o+8:o+8]) & 0x8080808080808080) >> uint(i)
	}
	clearMask := &clearMasks[nb]
	for j, n := range ns {
		k := uint8(t >> (8 * uint(j)))
		ps.K.Data[n*Points/8+c] = k
		if ps.Y == nil || k == 0 {
			continue
		}
		m := clearMask[k]
		o := n*lineBytes + c*nb
		for _, p := range [3][]byte{ps.Y.Data[o : o+nb : o+nb], ps.M.Data[o : o+nb : o+nb], ps.C.Data[o : o+nb : o+nb]} {
			for q := range p {
				p[q] &^= byte(m >> (8 * uint(nb-1-q)))
			}
		}
	}
	return true
}

// clearMasks[bits][k] has the bits of point i of an 8-point chunk (bits
// bits each, point 0 most significant) set where bit 7-i of k is set.
var clearMasks = func() (t [8][256]uint64) {
	for _, bits := range []int{1, 5, 6, 7} {
		for k := range 256 {
			for i := range 8 {
				if k>>(7-i)&1 != 0 {
					t[bits][k] |= (1<<bits - 1) << (uint(7-i) * uint(bits))
				}
			}
		}
	}
	return t
}()
