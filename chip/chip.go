// Package chip personalizes and verifies the contactless chip of an ID card
// through ISO 7816-4 commands. The logic lives here, over the one-method Card
// interface, so the PC/SC encoder (chip/pcsc) and the software card
// (chip/chiptest) behave the same way.
package chip

import (
	"context"
	"errors"
	"fmt"
)

// File is one elementary file to write: its file identifier and content.
type File struct {
	FID  uint16
	Data []byte
}

// Personalization is what a job asks to be written to a chip.
type Personalization struct {
	// AID selects an application (SELECT by DF name) before the files are
	// written; empty means the master file 3F00.
	AID   []byte
	Files []File
	// Lock moves every written file to its operational life-cycle state
	// (ACTIVATE FILE) once the read-back matched, after which the card
	// refuses further UPDATE BINARY on it.
	Lock bool
}

// Result describes the card an operation ran on.
type Result struct {
	UID   []byte // nil: the reader or card did not answer GET DATA (uid unknown)
	ATR   []byte
	APDUs int // command APDUs sent, GET RESPONSE included
}

// UIDString is the UID in hex, or "uid unknown" — the form the ledger uses.
func (r Result) UIDString() string {
	if r.UID == nil {
		return "uid unknown"
	}
	return fmt.Sprintf("%X", r.UID)
}

// Card sends one command APDU and returns the response APDU (data + SW1 SW2).
// Implementations map transport failures to ErrCardRemoved, ErrReaderGone or
// ErrServiceDown.
type Card interface {
	Transmit(ctx context.Context, apdu []byte) ([]byte, error)
}

// Encoder is what the station engine needs of a chip encoder. chip/pcsc and
// chip/chiptest both provide it.
type Encoder interface {
	// Personalize waits for a card (until ctx's deadline), reads its UID,
	// writes p, reads it back and compares, then locks if asked.
	Personalize(ctx context.Context, p Personalization) (Result, error)
	// Verify waits for a card and compares its files with p without writing.
	Verify(ctx context.Context, p Personalization) (Result, error)
}

// Errors callers match with errors.Is.
var (
	ErrNoCard         = errors.New("no card at the encoder")
	ErrCardRemoved    = errors.New("card removed from the encoder")
	ErrWriteRefused   = errors.New("card refused the write")
	ErrVerifyMismatch = errors.New("chip content does not match the job")
	ErrReaderGone     = errors.New("card reader not available")
	ErrServiceDown    = errors.New("PC/SC service not available")
	// ErrCardRefused is a card answering a non-write command (SELECT, READ)
	// with an error status word.
	ErrCardRefused = errors.New("card refused the command")
	// ErrBadProfile is a personalization that cannot be written as given.
	ErrBadProfile = errors.New("personalization profile not valid")
	// ErrBadResponse is a response the card should never give (too short,
	// more data than asked for).
	ErrBadResponse = errors.New("malformed card response")
)

// SWError is a status word other than 9000 in answer to a command.
// errors.Is(err, ErrWriteRefused) holds when the command was a write
// (CREATE FILE, UPDATE BINARY, ACTIVATE FILE), ErrCardRefused otherwise.
type SWError struct {
	Op  string // "SELECT", "CREATE FILE", "UPDATE BINARY", "READ BINARY", ...
	FID uint16 // file concerned; 0 when none
	SW  uint16
}

func (e *SWError) Error() string {
	where := ""
	if e.FID != 0 {
		where = fmt.Sprintf(" file %04X:", e.FID)
	}
	return fmt.Sprintf("chip %s:%s card answered %04X (%s)%s", e.Op, where, e.SW, SWText(e.SW), e.advice())
}

func (e *SWError) advice() string {
	if e.isWrite() {
		return " — the card does not accept this personalization; reject the card and check the card stock matches the job profile"
	}
	return ""
}

func (e *SWError) isWrite() bool {
	switch e.Op {
	case opCreate, opUpdate, opActivate:
		return true
	}
	return false
}

// Is makes errors.Is(err, ErrWriteRefused / ErrCardRefused) work.
func (e *SWError) Is(target error) bool {
	if target == ErrWriteRefused {
		return e.isWrite()
	}
	if target == ErrCardRefused {
		return !e.isWrite()
	}
	return false
}

// MismatchError names the file whose read-back differs from the job.
type MismatchError struct {
	FID    uint16
	Reason string // no card data in it: lengths and hash prefixes only
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("chip verify: file %04X: %s — the chip does not hold what the job asked for; reject the card", e.FID, e.Reason)
}

// Unwrap makes errors.Is(err, ErrVerifyMismatch) hold.
func (e *MismatchError) Unwrap() error { return ErrVerifyMismatch }
