package chip

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
)

// Options tune a session. The zero value is right for most cards.
type Options struct {
	// MaxChunk caps the bytes per UPDATE/READ BINARY. 0: 255 (short APDUs)
	// or 4096 when the card announces extended length. The session halves
	// the chunk whenever the card answers 6700 (wrong length), so the
	// chunk settles at the largest size the card takes.
	MaxChunk int
}

const (
	shortMaxWrite = 255
	shortMaxRead  = 256
	extMaxChunk   = 4096
	minChunk      = 8
	// 15-bit offsets in P1-P2 of the even-INS READ/UPDATE BINARY.
	maxFileSize = 0x7FFF
	// bound on chained GET RESPONSE rounds, so a card answering 61xx
	// forever cannot hold the encoder.
	maxGetResponse = 64
)

// Personalize reads the UID, writes p, reads every file back and compares
// SHA-256 digests, then locks the files if p.Lock. atr is the card's Answer
// To Reset; it says whether extended-length APDUs may be used.
func Personalize(ctx context.Context, c Card, atr []byte, p Personalization, o Options) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{ATR: atr}, err
	}
	s := newSession(c, atr, o)
	res := Result{ATR: atr}
	var err error
	if res.UID, err = s.readUID(ctx); err != nil {
		res.APDUs = s.apdus
		return res, err
	}
	if err := s.write(ctx, p); err != nil {
		res.APDUs = s.apdus
		return res, err
	}
	if err := s.verify(ctx, p); err != nil {
		res.APDUs = s.apdus
		return res, err
	}
	if p.Lock {
		if err := s.lock(ctx, p); err != nil {
			res.APDUs = s.apdus
			return res, err
		}
	}
	res.APDUs = s.apdus
	return res, nil
}

// Verify reads the UID and compares every file of p with the card, writing
// nothing.
func Verify(ctx context.Context, c Card, atr []byte, p Personalization, o Options) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{ATR: atr}, err
	}
	s := newSession(c, atr, o)
	res := Result{ATR: atr}
	var err error
	res.UID, err = s.readUID(ctx)
	if err == nil {
		err = s.verify(ctx, p)
	}
	res.APDUs = s.apdus
	return res, err
}

// ReadUID asks for the card UID with the PC/SC GET DATA pseudo-APDU
// FF CA 00 00 00. A card or reader that does not answer it gives nil, nil:
// "uid unknown" is a normal outcome, not an error.
func ReadUID(ctx context.Context, c Card) ([]byte, int, error) {
	s := newSession(c, nil, Options{})
	uid, err := s.readUID(ctx)
	return uid, s.apdus, err
}

// Validate checks p can be written with the commands this package sends.
func (p Personalization) Validate() error {
	if len(p.AID) != 0 && (len(p.AID) < 5 || len(p.AID) > 16) {
		return fmt.Errorf("%w: AID of %d bytes, ISO 7816-4 allows 5 to 16", ErrBadProfile, len(p.AID))
	}
	if len(p.Files) == 0 {
		return fmt.Errorf("%w: no files", ErrBadProfile)
	}
	seen := map[uint16]bool{}
	for _, f := range p.Files {
		switch f.FID {
		case 0x3F00, 0x3FFF, 0xFFFF, 0x0000:
			return fmt.Errorf("%w: file id %04X is reserved", ErrBadProfile, f.FID)
		}
		if seen[f.FID] {
			return fmt.Errorf("%w: file %04X appears twice", ErrBadProfile, f.FID)
		}
		seen[f.FID] = true
		if len(f.Data) > maxFileSize {
			return fmt.Errorf("%w: file %04X has %d bytes, at most %d can be addressed", ErrBadProfile, f.FID, len(f.Data), maxFileSize)
		}
	}
	return nil
}

type session struct {
	card     Card
	ext      bool
	maxWrite int
	maxRead  int
	apdus    int
}

func newSession(c Card, atr []byte, o Options) *session {
	s := &session{card: c, maxWrite: shortMaxWrite, maxRead: shortMaxRead}
	if info, err := ParseATR(atr); err == nil && info.ExtendedLength {
		// A malformed ATR is not fatal: short APDUs work on every card.
		s.ext = true
		s.maxWrite, s.maxRead = extMaxChunk, extMaxChunk
	}
	if o.MaxChunk >= minChunk {
		s.maxWrite = min(s.maxWrite, o.MaxChunk)
		s.maxRead = min(s.maxRead, o.MaxChunk)
	}
	return s
}

// send transmits one command, follows 61xx with GET RESPONSE and retries
// once on 6Cxx with the Le the card asked for.
func (s *session) send(ctx context.Context, op string, fid uint16, c Command) ([]byte, uint16, error) {
	data, sw, err := s.once(ctx, op, fid, c)
	if err != nil {
		return nil, 0, err
	}
	if sw>>8 == 0x6C && c.Le > 0 {
		c.Le = int(sw & 0xFF)
		if c.Le == 0 {
			c.Le = 256
		}
		if data, sw, err = s.once(ctx, op, fid, c); err != nil {
			return nil, 0, err
		}
	}
	for i := 0; sw>>8 == 0x61; i++ {
		if i == maxGetResponse {
			return nil, 0, fmt.Errorf("chip %s: %w: card still has response data after %d GET RESPONSE", op, ErrBadResponse, i)
		}
		le := int(sw & 0xFF)
		if le == 0 {
			le = 256
		}
		// GET RESPONSE is an interindustry command: CLA 00 even after a
		// PC/SC pseudo-APDU (CLA FF).
		more, sw2, err := s.once(ctx, opGetResponse, fid, Command{CLA: 0x00, INS: InsGetResponse, Le: le})
		if err != nil {
			return nil, 0, err
		}
		data = append(data, more...)
		sw = sw2
	}
	return data, sw, nil
}

func (s *session) once(ctx context.Context, op string, fid uint16, c Command) ([]byte, uint16, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("chip %s: %w", op, err)
	}
	raw, err := c.Encode(s.ext)
	if err != nil {
		return nil, 0, err
	}
	s.apdus++
	resp, err := s.card.Transmit(ctx, raw)
	if err != nil {
		if fid != 0 {
			return nil, 0, fmt.Errorf("chip %s file %04X: %w", op, fid, err)
		}
		return nil, 0, fmt.Errorf("chip %s: %w", op, err)
	}
	data, sw, err := ParseResponse(resp)
	if err != nil {
		return nil, 0, fmt.Errorf("chip %s: %w", op, err)
	}
	if c.Le > 0 && len(data) > c.Le {
		return nil, 0, fmt.Errorf("chip %s: %w: %d data bytes, %d asked for", op, ErrBadResponse, len(data), c.Le)
	}
	if c.Le < 0 && len(data) > 0 && sw>>8 != 0x61 {
		// A case 1/3 command has no response data; some cards send some
		// anyway. Ignore it rather than fail a good write.
		data = nil
	}
	return data, sw, nil
}

func (s *session) readUID(ctx context.Context) ([]byte, error) {
	data, sw, err := s.send(ctx, opGetUID, 0, Command{CLA: 0xFF, INS: InsGetData, Le: 256})
	if err != nil {
		return nil, err
	}
	if sw != SWOK || len(data) == 0 || len(data) > 16 {
		return nil, nil // uid unknown
	}
	return bytes.Clone(data), nil
}

func (s *session) selectApp(ctx context.Context, aid []byte) error {
	c := Command{CLA: 0x00, INS: InsSelect, P1: 0x00, P2: 0x0C, Data: []byte{0x3F, 0x00}, Le: -1}
	if len(aid) > 0 {
		c.P1, c.Data = 0x04, aid
	}
	_, sw, err := s.send(ctx, opSelect, 0, c)
	if err != nil {
		return err
	}
	if sw != SWOK {
		if len(aid) > 0 && sw == SWFileNotFound {
			return fmt.Errorf("%w: the card has no application with the job's AID — check the card stock", &SWError{Op: opSelect, SW: sw})
		}
		return &SWError{Op: opSelect, SW: sw}
	}
	return nil
}

// selectFile selects an EF by FID; with fcp it asks for the FCP template.
func (s *session) selectFile(ctx context.Context, fid uint16, fcp bool) ([]byte, uint16, error) {
	c := Command{CLA: 0x00, INS: InsSelect, P1: 0x00, P2: 0x0C, Data: []byte{byte(fid >> 8), byte(fid)}, Le: -1}
	if fcp {
		c.P2, c.Le = 0x04, 256
	}
	return s.send(ctx, opSelect, fid, c)
}

func (s *session) write(ctx context.Context, p Personalization) error {
	if err := s.selectApp(ctx, p.AID); err != nil {
		return err
	}
	for _, f := range p.Files {
		if err := s.create(ctx, f); err != nil {
			return err
		}
		if err := s.update(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) create(ctx context.Context, f File) error {
	n := len(f.Data)
	fcp := []byte{
		0x82, 0x01, 0x01, // file descriptor: working EF, transparent
		0x83, 0x02, byte(f.FID >> 8), byte(f.FID),
		0x80, 0x02, byte(n >> 8), byte(n),
	}
	body := append([]byte{0x62, byte(len(fcp))}, fcp...)
	_, sw, err := s.send(ctx, opCreate, f.FID, Command{INS: InsCreateFile, Data: body, Le: -1})
	if err != nil {
		return err
	}
	switch sw {
	case SWOK:
		return nil // the new file is now the current one
	case SWFileExists:
		// A card that already has the file (a retry on the same blank):
		// overwrite it; the read-back decides whether the result is right.
		_, sw, err := s.selectFile(ctx, f.FID, false)
		if err != nil {
			return err
		}
		if sw != SWOK {
			return &SWError{Op: opSelect, FID: f.FID, SW: sw}
		}
		return nil
	}
	return &SWError{Op: opCreate, FID: f.FID, SW: sw}
}

func (s *session) update(ctx context.Context, f File) error {
	for off := 0; off < len(f.Data); {
		n := min(s.maxWrite, len(f.Data)-off)
		c := Command{INS: InsUpdate, P1: byte(off >> 8), P2: byte(off), Data: f.Data[off : off+n], Le: -1}
		_, sw, err := s.send(ctx, opUpdate, f.FID, c)
		if err != nil {
			return err
		}
		switch {
		case sw == SWOK:
			off += n
		case sw == SWWrongLength && n > minChunk:
			s.maxWrite = max(minChunk, n/2) // the card takes less: settle lower
		default:
			return &SWError{Op: opUpdate, FID: f.FID, SW: sw}
		}
	}
	return nil
}

func (s *session) verify(ctx context.Context, p Personalization) error {
	if err := s.selectApp(ctx, p.AID); err != nil {
		return err
	}
	for _, f := range p.Files {
		if err := s.verifyFile(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) verifyFile(ctx context.Context, f File) error {
	fcp, sw, err := s.selectFile(ctx, f.FID, true)
	if err != nil {
		return err
	}
	if sw == SWWrongP1P2 || sw == SWFuncUnsupported {
		// A card that cannot return the FCP: select without it; the
		// read-back alone then decides.
		if fcp, sw, err = s.selectFile(ctx, f.FID, false); err != nil {
			return err
		}
	}
	if sw == SWFileNotFound {
		return &MismatchError{FID: f.FID, Reason: "file missing on the card"}
	}
	if sw != SWOK {
		return &SWError{Op: opSelect, FID: f.FID, SW: sw}
	}
	if len(fcp) > 0 {
		size, ok, err := FileSize(fcp)
		if err != nil {
			return fmt.Errorf("chip SELECT file %04X: %w", f.FID, err)
		}
		if ok && size != len(f.Data) {
			return &MismatchError{FID: f.FID, Reason: fmt.Sprintf("file holds %d bytes, the job has %d", size, len(f.Data))}
		}
	}
	got, err := s.read(ctx, f.FID, len(f.Data))
	if err != nil {
		return err
	}
	if len(got) != len(f.Data) {
		return &MismatchError{FID: f.FID, Reason: fmt.Sprintf("read back %d bytes, the job has %d", len(got), len(f.Data))}
	}
	h1, h2 := sha256.Sum256(got), sha256.Sum256(f.Data)
	if h1 != h2 {
		return &MismatchError{FID: f.FID, Reason: fmt.Sprintf("SHA-256 of the read-back %x… differs from the job's %x…", h1[:4], h2[:4])}
	}
	return nil
}

// read reads up to n bytes of the current EF.
func (s *session) read(ctx context.Context, fid uint16, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for len(out) < n {
		le := min(s.maxRead, n-len(out))
		off := len(out)
		data, sw, err := s.send(ctx, opRead, fid, Command{INS: InsRead, P1: byte(off >> 8), P2: byte(off), Le: le})
		if err != nil {
			return nil, err
		}
		switch {
		case sw == SWOK || sw == SWEndOfFile:
			out = append(out, data...)
			if len(data) == 0 || sw == SWEndOfFile {
				return out, nil // the file ends here
			}
		case sw == SWWrongOffset:
			return out, nil // the file is shorter than the job's data
		case sw == SWWrongLength && le > minChunk:
			s.maxRead = max(minChunk, le/2)
		default:
			return nil, &SWError{Op: opRead, FID: fid, SW: sw}
		}
	}
	return out, nil
}

func (s *session) lock(ctx context.Context, p Personalization) error {
	for _, f := range p.Files {
		_, sw, err := s.selectFile(ctx, f.FID, false)
		if err != nil {
			return err
		}
		if sw != SWOK {
			return &SWError{Op: opSelect, FID: f.FID, SW: sw}
		}
		_, sw, err = s.send(ctx, opActivate, f.FID, Command{INS: InsActivate, Le: -1})
		if err != nil {
			return err
		}
		if sw != SWOK {
			return &SWError{Op: opActivate, FID: f.FID, SW: sw}
		}
	}
	return nil
}
