package chip

import (
	"errors"
	"fmt"
)

// Instruction names, used in errors and by SWError.Is.
const (
	opSelect      = "SELECT"
	opCreate      = "CREATE FILE"
	opUpdate      = "UPDATE BINARY"
	opRead        = "READ BINARY"
	opActivate    = "ACTIVATE FILE"
	opGetResponse = "GET RESPONSE"
	opGetUID      = "GET DATA (UID)"
)

// ISO 7816-4 instruction bytes this package sends.
const (
	InsSelect      = 0xA4
	InsCreateFile  = 0xE0
	InsUpdate      = 0xD6
	InsRead        = 0xB0
	InsActivate    = 0x44
	InsGetResponse = 0xC0
	InsGetData     = 0xCA
)

// Status words the code acts on.
const (
	SWOK              uint16 = 0x9000
	SWEndOfFile       uint16 = 0x6282 // fewer bytes than Le before the end of the file
	SWWrongLength     uint16 = 0x6700 // Lc/Le too large for this card: use smaller chunks
	SWSecurity        uint16 = 0x6982 // security status not satisfied (e.g. file locked)
	SWConditions      uint16 = 0x6985 // conditions of use not satisfied
	SWFileNotFound    uint16 = 0x6A82
	SWNotEnoughMem    uint16 = 0x6A84
	SWFileExists      uint16 = 0x6A89
	SWWrongOffset     uint16 = 0x6B00
	SWInsUnsupported  uint16 = 0x6D00
	SWClaUnsupported  uint16 = 0x6E00
	SWFuncUnsupported uint16 = 0x6A81
	SWMemoryFailure   uint16 = 0x6581
	SWWrongP1P2       uint16 = 0x6A86
	SWWrongData       uint16 = 0x6A80
)

// SWText is a short English meaning of a status word, for errors and the
// diagnostic tool.
func SWText(sw uint16) string {
	switch sw {
	case SWOK:
		return "success"
	case SWEndOfFile:
		return "end of file reached before Le bytes"
	case SWWrongLength:
		return "wrong length"
	case SWSecurity:
		return "security status not satisfied"
	case SWConditions:
		return "conditions of use not satisfied"
	case SWFileNotFound:
		return "file or application not found"
	case SWNotEnoughMem:
		return "not enough memory in the file"
	case SWFileExists:
		return "file already exists"
	case SWWrongOffset:
		return "offset outside the file"
	case SWInsUnsupported:
		return "instruction not supported"
	case SWClaUnsupported:
		return "class not supported"
	case SWFuncUnsupported:
		return "function not supported"
	case SWMemoryFailure:
		return "memory failure"
	case SWWrongP1P2:
		return "incorrect P1-P2"
	case SWWrongData:
		return "incorrect data field"
	}
	switch sw >> 8 {
	case 0x61:
		return "more response data available"
	case 0x6C:
		return "wrong Le, card gives the right one"
	case 0x63:
		return "warning, non-volatile memory changed"
	case 0x64:
		return "execution error, memory unchanged"
	case 0x65:
		return "execution error, memory changed"
	case 0x69:
		return "command not allowed"
	case 0x6A:
		return "wrong parameters"
	}
	return "unknown status"
}

// Command is one command APDU before encoding.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	// Le is the number of response bytes expected: -1 for none (case 1/3),
	// 1..65536 otherwise. 256 (short) and 65536 (extended) encode as zeros.
	Le int
}

// Encode builds the APDU bytes. Short form is used whenever it fits; the
// extended form only when allowed (the card announced it) and needed.
func (c Command) Encode(extended bool) ([]byte, error) {
	lc := len(c.Data)
	if c.Le < -1 || c.Le == 0 || c.Le > 65536 {
		return nil, fmt.Errorf("chip: APDU %02X: Le %d out of range", c.INS, c.Le)
	}
	if lc > 65535 {
		return nil, fmt.Errorf("chip: APDU %02X: %d data bytes, at most 65535 fit", c.INS, lc)
	}
	short := lc <= 255 && c.Le <= 256
	if !short && !extended {
		return nil, fmt.Errorf("chip: APDU %02X needs extended length (Lc %d, Le %d) and the card does not announce it", c.INS, lc, c.Le)
	}
	b := make([]byte, 0, 4+3+lc+3)
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if short {
		if lc > 0 {
			b = append(b, byte(lc))
			b = append(b, c.Data...)
		}
		if c.Le > 0 {
			b = append(b, byte(c.Le)) // 256 wraps to 0x00, as ISO 7816-4 wants
		}
		return b, nil
	}
	if lc > 0 {
		b = append(b, 0x00, byte(lc>>8), byte(lc))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		if lc == 0 {
			b = append(b, 0x00)
		}
		b = append(b, byte(c.Le>>8), byte(c.Le)) // 65536 wraps to 0x0000
	}
	return b, nil
}

// ParseResponse splits a response APDU into its data and status word.
func ParseResponse(r []byte) (data []byte, sw uint16, err error) {
	if len(r) < 2 {
		return nil, 0, fmt.Errorf("%w: %d bytes, a response holds at least the 2-byte status word", ErrBadResponse, len(r))
	}
	n := len(r) - 2
	return r[:n:n], uint16(r[n])<<8 | uint16(r[n+1]), nil
}

// ATRInfo is what this package needs from an Answer To Reset.
type ATRInfo struct {
	Historical []byte
	// ExtendedLength: the card capabilities (historical bytes, COMPACT-TLV
	// tag 7, third software function table, bit 7) say Lc/Le may be extended.
	ExtendedLength bool
}

var errATR = errors.New("chip: malformed ATR")

// ParseATR walks the interface bytes of an ATR to its historical bytes and
// reads the card capabilities from them.
func ParseATR(atr []byte) (ATRInfo, error) {
	var info ATRInfo
	if len(atr) < 2 {
		return info, fmt.Errorf("%w: %d bytes", errATR, len(atr))
	}
	if atr[0] != 0x3B && atr[0] != 0x3F {
		return info, fmt.Errorf("%w: TS %02X is neither 3B nor 3F", errATR, atr[0])
	}
	y := atr[1] >> 4
	k := int(atr[1] & 0x0F)
	i := 2
	for {
		for _, bit := range []byte{1, 2, 4} { // TAi, TBi, TCi
			if y&bit != 0 {
				i++
			}
		}
		if y&8 == 0 {
			break
		}
		if i >= len(atr) {
			return info, fmt.Errorf("%w: interface bytes run past the end", errATR)
		}
		y = atr[i] >> 4
		i++
	}
	if i+k > len(atr) {
		return info, fmt.Errorf("%w: %d historical bytes announced, %d left", errATR, k, len(atr)-i)
	}
	info.Historical = atr[i : i+k : i+k]
	info.ExtendedLength = extendedFromHistorical(info.Historical)
	return info, nil
}

func extendedFromHistorical(h []byte) bool {
	if len(h) == 0 {
		return false
	}
	var objs []byte
	switch h[0] {
	case 0x80:
		objs = h[1:]
	case 0x00:
		if len(h) < 4 {
			return false
		}
		objs = h[1 : len(h)-3] // last three bytes are the status indicator
	default:
		return false
	}
	for len(objs) > 0 {
		tag, l := objs[0]>>4, int(objs[0]&0x0F)
		objs = objs[1:]
		if l > len(objs) {
			return false
		}
		if tag == 0x7 && l >= 3 {
			return objs[2]&0x40 != 0
		}
		objs = objs[l:]
	}
	return false
}

// FileSize reads the size of a transparent EF from an FCP template (the
// answer to SELECT with P2=04): tag 80, else 81. ok is false when neither is
// there.
func FileSize(fcp []byte) (size int, ok bool, err error) {
	tag, val, _, err := nextTLV(fcp)
	if err != nil {
		return 0, false, fmt.Errorf("%w: FCP: %v", ErrBadResponse, err)
	}
	if tag != 0x62 && tag != 0x6F {
		return 0, false, fmt.Errorf("%w: FCP template has tag %02X, want 62 or 6F", ErrBadResponse, tag)
	}
	var alt = -1
	for len(val) > 0 {
		t, v, rest, err := nextTLV(val)
		if err != nil {
			return 0, false, fmt.Errorf("%w: FCP: %v", ErrBadResponse, err)
		}
		val = rest
		if t != 0x80 && t != 0x81 {
			continue
		}
		if len(v) == 0 || len(v) > 4 {
			return 0, false, fmt.Errorf("%w: FCP size object of %d bytes", ErrBadResponse, len(v))
		}
		n := 0
		for _, b := range v {
			n = n<<8 | int(b)
		}
		if t == 0x80 {
			return n, true, nil
		}
		alt = n
	}
	if alt >= 0 {
		return alt, true, nil
	}
	return 0, false, nil
}

// nextTLV reads one BER-TLV object with a one-byte tag (all FCP tags used
// here are one byte; multi-byte tags are skipped over correctly).
func nextTLV(b []byte) (tag int, val, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, fmt.Errorf("TLV of %d bytes", len(b))
	}
	i := 1
	tag = int(b[0])
	if b[0]&0x1F == 0x1F { // multi-byte tag
		for {
			if i >= len(b) {
				return 0, nil, nil, errors.New("tag runs past the end")
			}
			tag = tag<<8 | int(b[i])
			i++
			if b[i-1]&0x80 == 0 || i > 4 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, nil, nil, errors.New("length missing")
	}
	l := int(b[i])
	i++
	if l&0x80 != 0 {
		nb := l & 0x7F
		if nb == 0 || nb > 3 || i+nb > len(b) {
			return 0, nil, nil, errors.New("bad length field")
		}
		l = 0
		for _, x := range b[i : i+nb] {
			l = l<<8 | int(x)
		}
		i += nb
	}
	if l > len(b)-i {
		return 0, nil, nil, fmt.Errorf("value of %d bytes, %d left", l, len(b)-i)
	}
	return tag, b[i : i+l : i+l], b[i+l:], nil
}
