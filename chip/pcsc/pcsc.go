// Package pcsc is the chip encoder of a card printer reached through PC/SC
// (github.com/ebfe/scard → libpcsclite → pcscd).
//
// Reader pattern: each printer's encoder reader is named in config by a
// pattern matched against PC/SC reader names. A pattern starting with "re:"
// is a Go regular expression (RE2, unanchored: add ^…$ to anchor it);
// anything else is a glob in path.Match syntax ("*" any run of characters,
// "?" one character, "[…]" a class), matched against the whole name, e.g.
// "Virtual PCD 00 00" or "Evolis*Contactless*". A pattern must match exactly
// one reader.
//
// Two PC/SC contexts per encoder: one watches reader states (and is the one
// cancelled when ctx ends), the other carries card I/O, so cancelling a wait
// never disturbs a transaction. Both are re-established when pcscd restarts.
package pcsc

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ebfe/scard"
	"github.com/rs/zerolog"

	"printstation/chip"
)

// pnpReader is PC/SC's pseudo reader whose state changes when a reader is
// plugged or unplugged.
const pnpReader = `\\?PnP?\Notification`

// Options for an encoder.
type Options struct {
	Log   zerolog.Logger // events carry the reader name, never card content
	Chunk chip.Options
}

// Encoder personalizes cards in one PC/SC reader.
type Encoder struct {
	pattern string
	match   func(string) bool
	opts    Options
	log     zerolog.Logger

	closing   chan struct{} // closed by Close: ends a wait for a card
	closeOnce sync.Once

	mu     sync.Mutex // one card operation at a time
	watch  *scard.Context
	io     *scard.Context
	reader string // last reader the pattern resolved to
	closed bool
}

var _ chip.Encoder = (*Encoder)(nil)

// Open finds the one reader matching pattern. It fails with
// chip.ErrServiceDown when pcscd does not answer and chip.ErrReaderGone when
// no reader matches.
func Open(ctx context.Context, pattern string) (*Encoder, error) {
	return OpenWith(ctx, pattern, Options{Log: zerolog.Nop()})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, pattern string, o Options) (*Encoder, error) {
	m, err := Matcher(pattern)
	if err != nil {
		return nil, err
	}
	e := &Encoder{pattern: pattern, match: m, opts: o, log: o.Log.With().Str("reader_pattern", pattern).Logger(), closing: make(chan struct{})}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.establish(); err != nil {
		return nil, err
	}
	r, err := e.resolve()
	if err != nil {
		e.release()
		return nil, err
	}
	e.log.Info().Str("reader", r).Msg("chip encoder reader found")
	return e, nil
}

// Matcher compiles a reader pattern (see the package comment).
func Matcher(pattern string) (func(string) bool, error) {
	if pattern == "" {
		return nil, errors.New("chip reader pattern is empty: name the encoder's reader in config (glob, or re:REGEXP)")
	}
	if re, ok := strings.CutPrefix(pattern, "re:"); ok {
		rx, err := regexp.Compile(re)
		if err != nil {
			return nil, fmt.Errorf("chip reader pattern %q: %w", pattern, err)
		}
		return rx.MatchString, nil
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("chip reader pattern %q: %w (glob syntax: * ? [..]; or re:REGEXP)", pattern, err)
	}
	return func(name string) bool { ok, _ := path.Match(pattern, name); return ok }, nil
}

// Reader is the reader name the pattern last resolved to.
func (e *Encoder) Reader() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reader
}

// Close releases the PC/SC contexts. A Personalize or Verify waiting for a
// card returns (chip.ErrNoCard) first.
func (e *Encoder) Close() error {
	e.closeOnce.Do(func() { close(e.closing) })
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	e.release()
	return nil
}

// Personalize waits for a card (until ctx's deadline), reads its UID, writes
// p, reads it back, compares and locks if asked.
func (e *Encoder) Personalize(ctx context.Context, p chip.Personalization) (chip.Result, error) {
	var res chip.Result
	err := e.Do(ctx, func(ctx context.Context, c chip.Card, atr []byte) error {
		var err error
		res, err = chip.Personalize(ctx, c, atr, p, e.opts.Chunk)
		return err
	})
	e.logResult("personalize", res, err)
	return res, err
}

// Verify waits for a card and compares its files with p.
func (e *Encoder) Verify(ctx context.Context, p chip.Personalization) (chip.Result, error) {
	var res chip.Result
	err := e.Do(ctx, func(ctx context.Context, c chip.Card, atr []byte) error {
		var err error
		res, err = chip.Verify(ctx, c, atr, p, e.opts.Chunk)
		return err
	})
	e.logResult("verify", res, err)
	return res, err
}

func (e *Encoder) logResult(op string, res chip.Result, err error) {
	ev := e.log.Info()
	if err != nil {
		ev = e.log.Warn().Err(err)
	}
	ev.Str("op", op).Str("reader", e.Reader()).Int("apdus", res.APDUs).Bool("uid_known", res.UID != nil).Msg("chip operation done")
}

// Do waits for a card, connects exclusively inside a transaction and runs f
// with it. Diagnostics use it directly.
func (e *Encoder) Do(ctx context.Context, f func(ctx context.Context, c chip.Card, atr []byte) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("chip encoder %q: closed", e.pattern)
	}
	card, atr, err := e.connect(ctx)
	if err != nil {
		return err
	}
	k := &conn{card: card, reader: e.reader, e: e}
	defer k.done()
	return f(ctx, k, atr)
}

func (e *Encoder) establish() error {
	var err error
	if e.watch == nil {
		if e.watch, err = scard.EstablishContext(); err != nil {
			e.watch = nil
			return fmt.Errorf("chip encoder: %w — is pcscd running? (systemctl status pcscd): %w", chip.ErrServiceDown, err)
		}
	}
	if e.io == nil {
		if e.io, err = scard.EstablishContext(); err != nil {
			e.io = nil
			return fmt.Errorf("chip encoder: %w — is pcscd running? (systemctl status pcscd): %w", chip.ErrServiceDown, err)
		}
	}
	return nil
}

func (e *Encoder) release() {
	if e.watch != nil {
		_ = e.watch.Release()
		e.watch = nil
	}
	if e.io != nil {
		_ = e.io.Release()
		e.io = nil
	}
}

// resolve lists readers and picks the one the pattern matches.
func (e *Encoder) resolve() (string, error) {
	names, err := e.watch.ListReaders()
	if err != nil && !errors.Is(err, scard.ErrNoReadersAvailable) {
		return "", e.mapErr("list readers", err)
	}
	var hits []string
	for _, n := range names {
		if e.match(n) {
			hits = append(hits, n)
		}
	}
	switch len(hits) {
	case 0:
		return "", fmt.Errorf("chip encoder: %w: no reader matches %q (readers: %q) — check the printer's USB cable and the reader pattern in config", chip.ErrReaderGone, e.pattern, names)
	case 1:
		if e.reader != "" && e.reader != hits[0] {
			e.log.Info().Str("reader", hits[0]).Msg("chip encoder reader changed")
		}
		e.reader = hits[0]
		return hits[0], nil
	}
	return "", fmt.Errorf("chip encoder: reader pattern %q matches %d readers %q — make it match only this printer's encoder", e.pattern, len(hits), hits)
}

// connect waits for a card and connects to it. pcscd restarting and the
// reader being unplugged and plugged back while nobody holds a card are
// survived: the contexts are re-established, the reader looked up again,
// and the wait goes on until ctx ends — then the error says which of the
// two was missing.
func (e *Encoder) connect(ctx context.Context) (*scard.Card, []byte, error) {
	var logged error
	for {
		card, atr, err := e.tryConnect(ctx)
		service := errors.Is(err, chip.ErrServiceDown)
		if err == nil || (!service && !errors.Is(err, chip.ErrReaderGone)) {
			if logged != nil && err == nil {
				e.log.Info().Str("reader", e.reader).Msg("chip encoder reader back")
			}
			return card, atr, err
		}
		if logged == nil || errors.Is(err, chip.ErrServiceDown) != errors.Is(logged, chip.ErrServiceDown) {
			e.log.Warn().Err(err).Msg("chip encoder waiting for the reader")
			logged = err
		}
		if service {
			e.release() // re-establish: pcscd may have restarted
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-e.closing:
			return nil, nil, fmt.Errorf("%w (encoder closed)", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (e *Encoder) tryConnect(ctx context.Context) (*scard.Card, []byte, error) {
	if err := e.establish(); err != nil {
		return nil, nil, err
	}
	reader, err := e.resolve()
	if err != nil {
		return nil, nil, err
	}
	for {
		if err := e.waitCard(ctx, reader); err != nil {
			return nil, nil, err
		}
		card, err := e.io.Connect(reader, scard.ShareExclusive, scard.ProtocolAny)
		if errors.Is(err, scard.ErrSharingViolation) || errors.Is(err, scard.ErrNoSmartcard) || errors.Is(err, scard.ErrRemovedCard) || errors.Is(err, scard.ErrUnresponsiveCard) {
			// Someone else holds the card, or it left or is still
			// powering up: keep waiting until the deadline.
			select {
			case <-ctx.Done():
				return nil, nil, fmt.Errorf("chip encoder %q: %w: card present but not usable (%v): %w", reader, chip.ErrNoCard, err, ctx.Err())
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		if err != nil {
			return nil, nil, e.mapErr("connect", err)
		}
		if p := card.ActiveProtocol(); p != scard.ProtocolT0 && p != scard.ProtocolT1 {
			_ = card.Disconnect(scard.ResetCard)
			return nil, nil, fmt.Errorf("chip encoder %q: card speaks protocol %d, only T=0 and T=1 are supported — wrong card stock?", reader, p)
		}
		if err := card.BeginTransaction(); err != nil {
			_ = card.Disconnect(scard.LeaveCard)
			return nil, nil, e.mapErr("begin transaction", err)
		}
		st, err := card.Status()
		if err != nil {
			_ = card.EndTransaction(scard.LeaveCard)
			_ = card.Disconnect(scard.LeaveCard)
			return nil, nil, e.mapErr("card status", err)
		}
		e.log.Debug().Str("reader", reader).Msg("card connected")
		return card, st.Atr, nil
	}
}

// waitCard blocks until a card is present in reader, the reader goes away,
// or ctx ends (the watch context is cancelled to interrupt the wait).
func (e *Encoder) waitCard(ctx context.Context, reader string) error {
	states := []scard.ReaderState{
		{Reader: reader, CurrentState: scard.StateUnaware},
		{Reader: pnpReader, CurrentState: scard.StateUnaware},
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("chip encoder %q: %w: %w", reader, chip.ErrNoCard, err)
		}
		timeout := time.Duration(-1) // infinite, ended by Cancel
		if dl, ok := ctx.Deadline(); ok {
			timeout = max(time.Until(dl), 0)
		}
		stop := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			select {
			case <-ctx.Done():
				_ = e.watch.Cancel()
			case <-e.closing:
				_ = e.watch.Cancel()
			case <-stop:
			}
		}()
		err := e.watch.GetStatusChange(states, timeout)
		close(stop)
		<-stopped
		switch {
		case errors.Is(err, scard.ErrTimeout), errors.Is(err, scard.ErrCancelled):
			cause := ctx.Err()
			select {
			case <-e.closing:
				cause = errors.New("encoder closed")
			default:
			}
			if cause == nil {
				cause = context.DeadlineExceeded
			}
			return fmt.Errorf("chip encoder %q: %w: %w", reader, chip.ErrNoCard, cause)
		case err != nil:
			return e.mapErr("wait for card", err)
		}
		st := states[0].EventState
		if st&(scard.StateUnknown|scard.StateIgnore|scard.StateUnavailable) != 0 {
			return fmt.Errorf("chip encoder %q: %w: reader unplugged — check the printer's USB cable", reader, chip.ErrReaderGone)
		}
		if st&scard.StatePresent != 0 && st&scard.StateMute == 0 {
			return nil
		}
		if states[1].EventState&scard.StateChanged != 0 {
			// A reader came or went: make sure ours is still there.
			if _, err := e.resolve(); err != nil {
				return err
			}
		}
		for i := range states {
			states[i].CurrentState = states[i].EventState &^ scard.StateChanged
		}
	}
}

// mapErr turns a PC/SC error into the chip error a caller matches on.
func (e *Encoder) mapErr(op string, err error) error {
	var se scard.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("chip encoder %q: %s: %w", e.reader, op, err)
	}
	switch se {
	case scard.ErrRemovedCard, scard.ErrNoSmartcard, scard.ErrResetCard, scard.ErrUnresponsiveCard,
		scard.ErrUnpoweredCard, scard.ErrCommError, scard.ErrCommDataLost, scard.ErrNotTransacted:
		return fmt.Errorf("chip encoder %q: %s: %w: %w", e.reader, op, chip.ErrCardRemoved, err)
	case scard.ErrReaderUnavailable, scard.ErrUnknownReader, scard.ErrNoReadersAvailable:
		return fmt.Errorf("chip encoder %q: %s: %w: %w — check the printer's USB cable", e.reader, op, chip.ErrReaderGone, err)
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrInvalidHandle, scard.ErrShutdown:
		return fmt.Errorf("chip encoder %q: %s: %w: %w — is pcscd running?", e.reader, op, chip.ErrServiceDown, err)
	}
	return fmt.Errorf("chip encoder %q: %s: %w", e.reader, op, err)
}

// conn is a connected card, the chip.Card the session runs on.
type conn struct {
	card   *scard.Card
	reader string
	e      *Encoder
}

func (k *conn) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if len(apdu) == 0 {
		return nil, errors.New("chip encoder: empty command APDU") // scard would panic
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp, err := k.card.Transmit(apdu)
	if err != nil {
		return nil, k.e.mapErr("transmit", err)
	}
	if len(resp) == 0 {
		// vpcd answers for a card that left the field with nothing; a real
		// reader returns an error. Either way no card answered.
		return nil, fmt.Errorf("chip encoder %q: transmit: %w: no answer from the card", k.reader, chip.ErrCardRemoved)
	}
	return resp, nil
}

func (k *conn) done() {
	_ = k.card.EndTransaction(scard.LeaveCard)
	_ = k.card.Disconnect(scard.LeaveCard)
}

// ReaderInfo is one reader as PC/SC reports it.
type ReaderInfo struct {
	Name    string
	Present bool // a card is in the field
	InUse   bool // another process holds the card
	Mute    bool // a card that does not answer reset
	ATR     []byte
}

// Readers lists all readers and their state.
func Readers() ([]ReaderInfo, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("%w — is pcscd running?: %w", chip.ErrServiceDown, err)
	}
	defer c.Release()
	names, err := c.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) || (err == nil && len(names) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list readers: %w", err)
	}
	states := make([]scard.ReaderState, len(names))
	for i, n := range names {
		states[i] = scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware}
	}
	if err := c.GetStatusChange(states, 0); err != nil && !errors.Is(err, scard.ErrTimeout) {
		return nil, fmt.Errorf("reader states: %w", err)
	}
	out := make([]ReaderInfo, len(names))
	for i, s := range states {
		out[i] = ReaderInfo{
			Name:    s.Reader,
			Present: s.EventState&scard.StatePresent != 0,
			InUse:   s.EventState&(scard.StateInuse|scard.StateExclusive) != 0,
			Mute:    s.EventState&scard.StateMute != 0,
		}
		if out[i].Present {
			out[i].ATR = s.Atr
		}
	}
	return out, nil
}
