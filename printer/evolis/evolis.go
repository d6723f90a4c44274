// Package evolis drives Evolis card printers with the Evolis command
// language (ESC, command, ';'-separated parameters, CR), in host error
// handling mode (Pem;2): the printer stops on an error and tells us, and the
// station decides what to do with the card.
//
// A card goes (docs/printer/evolis.md gives the source of every step):
//
//	Rr, Pr;ribbon, Ss, Si  Feed: check the ribbon, set it, start a sequence, take a blank
//	Sic / Sis              MoveTo contactless / contact station
//	Sr|Sv, (Db|Dbc)…       Print one side: select the side, download each
//	                         panel; each download prints the one before it
//	Se | Ser               Eject (prints the last panel) | Reject to the reject box
//
// The ribbon is set before Ss and there is no Sp after a download: the
// guide's example (§21, page 69), the vendor's Windows driver capture and
// the vendor's sample code all do it this way; an Sp would print a panel a
// second time.
//
// One command is in flight at a time; each class of command has its own
// timeout (printer.Timeouts). When the link drops the driver dials again
// through its transport on the next command and puts the printer back in
// Pem;2; reads are retried once on a fresh link, movements never are (a
// repeated feed would take a second blank).
package evolis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"printstation/printer"
	"printstation/printer/raster"
)

// Name is the driver's name in the printer registry.
const Name = "evolis"

func init() {
	printer.RegisterDriver(Name, func(ctx context.Context, a printer.Addr, dial printer.Dialer, opts printer.Options) (printer.Driver, error) {
		return Open(ctx, a.String(), dial, opts)
	})
}

// Driver is an Evolis printer.
type Driver struct {
	mu       sync.Mutex
	name     string
	addr     string
	dial     printer.Dialer
	conn     printer.Conn
	rr       replyReader
	t        printer.Timeouts
	compress bool
	// ribbon is the ribbon type (Pr) this printer is set up for: from
	// the configuration, or what the printer reports (Rr) when none is
	// configured.
	ribbon string
	// printed: a panel download went out since the last Ss, so Se also
	// prints the last panel and takes longer.
	printed bool
	log     zerolog.Logger
	pos     printer.Position // where we last put the card
	closed  bool
	jammed  bool // the card at pos jammed and nobody has cleared it
	// pemPending: the printer was busy when we connected and has not yet
	// taken Pem;2.
	pemPending bool
	// dbc holds a compressed panel's lines while it is written; kept from
	// card to card (guarded by mu).
	dbc []byte
}

var (
	_ printer.Driver     = (*Driver)(nil)
	_ printer.Technician = (*Driver)(nil)
)

// Open connects through dial and sets host error handling. addr is only
// used in Info and messages.
func Open(ctx context.Context, addr string, dial printer.Dialer, opts printer.Options) (*Driver, error) {
	d := &Driver{
		name:     opts.Name,
		addr:     addr,
		dial:     dial,
		t:        opts.Timeouts.WithDefaults(),
		compress: opts.Compress,
		ribbon:   opts.Ribbon,
		log:      opts.Log.With().Str("printer", opts.Name).Logger(),
		pos:      printer.PositionUnknown,
	}
	if d.name == "" {
		d.name = addr
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.connect(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// connect dials and puts the printer in host error handling mode.
func (d *Driver) connect(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, d.t.Move)
	defer cancel()
	c, err := d.dial(dctx)
	if err != nil {
		return d.fail("connect", err, printer.PositionUnknown)
	}
	d.conn = c
	d.rr.reset()
	d.pemPending = false
	if _, err := d.exchange(ctx, "connect", d.t.Read, [][]byte{frame("Pem", "2")}, wantOK); err != nil {
		var re *replyError
		if !errors.As(err, &re) || re.kind != printer.KindBusy {
			d.drop()
			return d.fail("set host error handling (Pem;2)", err, printer.PositionUnknown)
		}
		// Still busy with what the last link asked; reads work, and Pem;2
		// goes out before the next command that needs it.
		d.pemPending = true
	}
	d.locate(ctx)
	d.log.Info().Str("addr", d.addr).Str("card", d.pos.String()).Msg("printer connected")
	return nil
}

// locate asks the printer where the card is (Rlr;p) and believes it.
func (d *Driver) locate(ctx context.Context) printer.Position {
	text, err := d.exchange(ctx, "read card presence", d.t.Read, [][]byte{frame("Rlr", "p")}, nil)
	var re *replyError
	if err != nil && !(errors.As(err, &re) && re.kind == printer.KindOther) {
		return printer.PositionUnknown
	}
	if re != nil {
		text = re.text
	}
	return d.presence(text)
}

func (d *Driver) drop() {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
		d.log.Warn().Msg("printer link dropped")
	}
	d.rr.reset()
}

// frame builds ESC cmd;p1;p2… CR.
func frame(cmd string, params ...string) []byte {
	b := []byte{0x1b}
	b = append(b, cmd...)
	for _, p := range params {
		b = append(b, ';')
		b = append(b, p...)
	}
	return append(b, '\r')
}

// exchange writes one command and reads its reply on the current link. A
// reply that is not an error word but not what want accepts either is an
// error naming what arrived.
//
// cmd is written part after part: a panel download is its header, the
// panel's own bytes and CR, sent as they are rather than copied into one
// ≈ 400 KB command first.
func (d *Driver) exchange(ctx context.Context, op string, timeout time.Duration, cmd [][]byte, want expect) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, part := range cmd {
		if _, err := d.conn.Write(ctx, part); err != nil {
			return "", err
		}
	}
	line, err := d.rr.next(ctx, d.conn)
	if err != nil {
		return "", err
	}
	text, rerr := parseReply(line)
	if rerr != nil {
		return text, rerr
	}
	if want != nil {
		if err := want(text); err != nil {
			return text, &replyError{kind: printer.KindProtocol, text: fmt.Sprintf("%s: %v", cmdName(cmd[0]), err)}
		}
	}
	return text, nil
}

// cmdName is the command and its short parameters, for messages
// ("Rse;f"); bitmap data is left out.
func cmdName(cmd []byte) string {
	s := strings.TrimSuffix(strings.TrimPrefix(string(cmd), "\x1b"), "\r")
	if strings.HasPrefix(s, "Db") {
		parts := strings.SplitN(s, ";", 4)
		return strings.Join(parts[:min(3, len(parts))], ";")
	}
	return string(clip([]byte(s)))
}

// do runs one command: (re)connect if needed, send, read, classify. pos is
// where the card will be if the command fails mechanically.
func (d *Driver) do(ctx context.Context, op string, timeout time.Duration, pos printer.Position, idempotent bool, cmd []byte, want expect) (string, error) {
	return d.doParts(ctx, op, timeout, pos, idempotent, [][]byte{cmd}, want)
}

// doParts is do for a command written in parts (see exchange).
func (d *Driver) doParts(ctx context.Context, op string, timeout time.Duration, pos printer.Position, idempotent bool, cmd [][]byte, want expect) (string, error) {
	if d.closed {
		return "", &printer.Error{Printer: d.name, Op: op, Kind: printer.KindDisconnected, Position: printer.PositionUnknown, Detail: "driver closed"}
	}
	for attempt := 0; ; attempt++ {
		if d.conn == nil {
			if err := d.connect(ctx); err != nil {
				return "", err
			}
		}
		var text string
		var err error
		if d.pemPending && !idempotent {
			if _, err = d.exchange(ctx, op, d.t.Read, [][]byte{frame("Pem", "2")}, wantOK); err == nil {
				d.pemPending = false
			}
		}
		if err == nil {
			text, err = d.exchange(ctx, op, timeout, cmd, want)
		}
		if err == nil {
			return text, nil
		}
		var re *replyError
		if errors.As(err, &re) && re.kind != printer.KindProtocol {
			return text, d.fail(op, err, pos)
		}
		// Link trouble or garbage: anything still on the way is stale, so
		// start again on a fresh link.
		d.drop()
		if idempotent && attempt == 0 && errors.Is(err, printer.ErrDisconnected) && ctx.Err() == nil {
			continue
		}
		ferr := d.fail(op, err, pos)
		var pe *printer.Error
		if errors.As(ferr, &pe) && pe.Position == printer.PositionUnknown {
			// Whether the card moved is unknown: dial again and ask the
			// printer, so the person (and the engine) know where it is.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*d.t.Read)
			d.pos = printer.PositionUnknown // believe the printer, not our last idea
			if d.connect(rctx) == nil {
				pe.Position = d.pos
			}
			cancel()
		}
		return "", ferr
	}
}

// fail builds the *printer.Error for err.
func (d *Driver) fail(op string, err error, pos printer.Position) error {
	e := &printer.Error{Printer: d.name, Op: op, Position: pos}
	var re *replyError
	switch {
	case errors.As(err, &re):
		e.Kind, e.Detail = re.kind, re.text
		switch re.kind {
		case printer.KindProtocol:
			e.Position = printer.PositionUnknown
		case printer.KindJam:
			if d.jammed {
				e.Position = d.pos // still stuck where it jammed first
			} else {
				d.pos, d.jammed = pos, true // stuck there until someone takes it out
			}
		default:
			e.Position = d.pos // nothing moved
		}
	case errors.Is(err, printer.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Err = printer.KindTimeout, err
	case errors.Is(err, printer.ErrDisconnected):
		e.Kind, e.Err = printer.KindDisconnected, err
	case errors.Is(err, printer.ErrProtocol):
		e.Kind, e.Err = printer.KindProtocol, err
	default:
		var pe *printer.Error
		if errors.As(err, &pe) {
			return err
		}
		e.Kind, e.Err = printer.KindOther, err
	}
	if e.Kind == printer.KindTimeout || e.Kind == printer.KindDisconnected {
		if pos != d.pos {
			e.Position = printer.PositionUnknown // it may or may not have moved
		}
	}
	d.log.Warn().Str("op", op).Str("kind", e.Kind.String()).Str("card", e.Position.String()).Str("detail", e.Detail).Msg("printer error")
	return e
}

func (d *Driver) read(ctx context.Context, op string, want expect, cmd string, params ...string) (string, error) {
	return d.do(ctx, op, d.t.Read, d.pos, true, frame(cmd, params...), want)
}

// Info reads model, serial number and firmware.
func (d *Driver) Info(ctx context.Context) (printer.Info, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	info := printer.Info{Driver: Name, Addr: d.addr}
	var err error
	if info.Model, err = d.read(ctx, "read model", wantText, "Rtp"); err != nil {
		return info, err
	}
	if info.Serial, err = d.read(ctx, "read serial number", wantText, "Rsn"); err != nil {
		return info, err
	}
	if info.Firmware, err = d.read(ctx, "read firmware", wantText, "Rfv"); err != nil {
		return info, err
	}
	if kit, err := d.read(ctx, "read head kit", wantText, "Rkn"); err == nil {
		info.HeadKit = kit
	} else if printer.KindOf(err) != printer.KindRefused {
		return info, err
	}
	if r, err := d.read(ctx, "read ribbon type", wantText, "Rr"); err == nil {
		info.Ribbon = strings.ToLower(r)
	} else if printer.KindOf(err) != printer.KindRefused {
		return info, err
	}
	if di, ok := d.conn.(printer.DeviceIDer); ok && d.conn != nil {
		ictx, cancel := context.WithTimeout(ctx, d.t.Read)
		info.DeviceID, _ = di.DeviceID(ictx) // informative only
		cancel()
	}
	return info, nil
}

// Counters reads the printer's counters.
func (d *Driver) Counters(ctx context.Context) (printer.Counters, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var c printer.Counters
	for _, f := range []struct {
		p    string
		what string
		v    *int64
	}{
		{"c", "cards inserted", &c.CardsInserted},
		{"p", "panels printed", &c.PanelsPrinted},
		{"n", "cleanings", &c.Cleanings},
		{"a", "average cleaning frequency", &c.AvgCleaningFreq},
		{"m", "maximum cleaning frequency", &c.MaxCleaningFreq},
	} {
		v, err := d.counter(ctx, f.what, f.p)
		if err != nil {
			return c, err
		}
		*f.v = v
	}
	c.RibbonLeft = -1
	if v, err := d.counter(ctx, "prints left on ribbon", "l"); err == nil {
		c.RibbonLeft = v
	} else if printer.KindOf(err) != printer.KindRefused {
		return c, err
	}
	return c, nil
}

// CardCounters reads only the two counters a station reads before every
// blank — cards inserted (its crash record) and cleanings (its cleaning
// policy) — in two commands where Counters sends six. The other fields are
// left unknown (zero; RibbonLeft −1).
func (d *Driver) CardCounters(ctx context.Context) (printer.Counters, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := printer.Counters{RibbonLeft: -1}
	var err error
	if c.CardsInserted, err = d.counter(ctx, "cards inserted", "c"); err != nil {
		return c, err
	}
	if c.Cleanings, err = d.counter(ctx, "cleanings", "n"); err != nil {
		return c, err
	}
	return c, nil
}

func (d *Driver) counter(ctx context.Context, what, p string) (int64, error) {
	op := "read counter " + what
	s, err := d.read(ctx, op, wantCount, "Rco", p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64) // wantCount checked it
}

// Status reads the cover, feeder, card presence, ribbon and cleaning state.
// A read the model does not know is skipped.
func (d *Driver) Status(ctx context.Context) (printer.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := printer.Status{Card: printer.PositionUnknown}
	skip := func(err error) bool { return printer.KindOf(err) == printer.KindRefused }

	if v, err := d.sensor(ctx, "o"); err == nil {
		st.CoverOpen = v < 1.0
	} else if !skip(err) {
		return st, err
	}
	// The feeder is Rse;f (guide Ase page 13: "input feeder sensor";
	// QEvolisPrinter: "0,00 Volts" empty, "5,00 Volts" loaded). Rse;m is a
	// card-path sensor (guide Rse page 37), not the feeder's contents. A
	// model without f leaves it unknown: Si then answers FEEDER EMPTY.
	if v, err := d.sensor(ctx, "f"); err == nil {
		st.FeederEmpty = v < 2.5
	} else if !skip(err) {
		return st, err
	}
	if s, err := d.read(ctx, "read card presence", presenceReply, "Rlr", "p"); err == nil || printer.KindOf(err) == printer.KindOther {
		if err != nil {
			var pe *printer.Error
			errors.As(err, &pe)
			s = pe.Detail
		}
		st.Card = d.presence(s)
	} else if !skip(err) {
		return st, err
	}
	// Rcr: "OK" when the ribbon is not on its end mark (guide page 32).
	last := "OK"
	if _, err := d.read(ctx, "read ribbon", wantOK, "Rcr"); err != nil {
		switch printer.KindOf(err) {
		case printer.KindRibbonOut:
			st.RibbonOut = true
		case printer.KindRefused:
		default:
			return st, err
		}
		var pe *printer.Error
		if errors.As(err, &pe) {
			last = pe.Detail
		}
	}
	// Rlr;r: "ERR NEED CLEANING" when the cleaning counter ran out (guide
	// page 34), otherwise the last answer — Rcr's, just before.
	if _, err := d.read(ctx, "read cleaning state", wantOK, "Rlr", "r"); err != nil {
		var pe *printer.Error
		switch k := printer.KindOf(err); {
		case k == printer.KindNeedsCleaning:
			st.NeedsCleaning = true
		case k == printer.KindRefused:
		case errors.As(err, &pe) && pe.Detail == last:
			// the echo of Rcr's answer: no cleaning due
		default:
			return st, err
		}
	}
	if st.CoverOpen {
		st.Problems = append(st.Problems, "cover open — close it")
	}
	if st.FeederEmpty {
		st.Problems = append(st.Problems, "feeder empty — load blank cards")
	}
	if st.RibbonOut {
		st.Problems = append(st.Problems, "ribbon finished — replace it")
	}
	if st.NeedsCleaning {
		st.Problems = append(st.Problems, "cleaning needed — run a cleaning cycle")
	}
	st.Ready = len(st.Problems) == 0
	return st, nil
}

// presenceReply accepts Rlr;p's answers; "ERR CARD" arrives as an error
// word (KindOther) and is read from its detail.
func presenceReply(text string) error {
	if presenceWords[strings.ToUpper(text)] {
		return nil
	}
	return fmt.Errorf("card presence reply %q is none of NO CARD, OK, CARD, SMART CARD, CONTACTLESS CARD", clip([]byte(text)))
}

// presence interprets Rlr;p.
func (d *Driver) presence(s string) printer.Position {
	switch u := strings.ToUpper(strings.TrimSpace(s)); {
	case u == "NO CARD" || u == "OK":
		d.pos = printer.PositionNone
	case u == "CONTACTLESS CARD":
		d.pos = printer.PositionContactless
	case u == "SMART CARD":
		d.pos = printer.PositionContact
	case u == "CARD" || u == "ERR CARD":
		if d.pos != printer.PositionContact && d.pos != printer.PositionContactless {
			d.pos = printer.PositionPrintHead
		}
	default:
		return printer.PositionUnknown
	}
	return d.pos
}

func (d *Driver) sensor(ctx context.Context, code string) (float64, error) {
	s, err := d.read(ctx, "read sensor "+code, wantVolts, "Rse", code)
	if err != nil {
		return 0, err
	}
	return parseVolts(s) // wantVolts checked it
}

// parseVolts reads a sensor voltage as printers write it: a comma (or a
// point) as decimal mark and an optional unit, "5,00 Volts", "0,04 V",
// "4,98" (QEvolisPrinter's records of Rse replies; the guide page 37 says
// only "reads the sensors voltage"). Anything else is refused.
func parseVolts(s string) (float64, error) {
	t := strings.TrimSpace(s)
	num := t
	if i := strings.IndexFunc(t, func(r rune) bool { return r == ' ' || r == 'V' || r == 'v' }); i >= 0 {
		num = t[:i]
		unit := strings.ToLower(strings.TrimSpace(t[i:]))
		if unit != "v" && unit != "volt" && unit != "volts" {
			return 0, fmt.Errorf("sensor reply %q is not a voltage", clip([]byte(s)))
		}
	}
	ok := num != ""
	seps := 0
	for i, r := range num {
		switch {
		case r >= '0' && r <= '9':
		case (r == ',' || r == '.') && i > 0 && i < len(num)-1:
			seps++
		case r == '-' && i == 0:
		default:
			ok = false
		}
	}
	if !ok || seps > 1 {
		return 0, fmt.Errorf("sensor reply %q is not a voltage", clip([]byte(s)))
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(num, ",", "."), 64)
	if err != nil || !(v >= -50 && v <= 50) { // also refuses NaN
		return 0, fmt.Errorf("sensor reply %q is not a voltage", clip([]byte(s)))
	}
	return v, nil
}

// checkRibbon compares the ribbon the printer reports (Rr, "reads the
// ribbon type set in the printer memory", guide page 36) with the one this
// printer is configured for. A printer that does not know Rr leaves the
// configuration in charge; a mismatch stops before a blank moves.
func (d *Driver) checkRibbon(ctx context.Context) error {
	got, err := d.read(ctx, "read ribbon type", wantText, "Rr")
	switch {
	case printer.KindOf(err) == printer.KindRefused:
		got = ""
	case err != nil:
		return err
	}
	got = strings.ToLower(got)
	if d.ribbon == "" {
		if got == "" {
			return &printer.Error{Printer: d.name, Op: "feed", Kind: printer.KindRibbonMismatch, Position: d.pos,
				Detail: "the printer does not report its ribbon and none is configured; set ribbon in the printer's configuration"}
		}
		d.ribbon = got
	}
	if got != "" && got != d.ribbon {
		return &printer.Error{Printer: d.name, Op: "feed", Kind: printer.KindRibbonMismatch, Position: d.pos,
			Detail: fmt.Sprintf("the printer reports ribbon %q but it is configured for %q; install a %s ribbon or change the configuration (if a %s ribbon is in, tell the printer: diag printer set-ribbon %s)", got, d.ribbon, d.ribbon, d.ribbon, d.ribbon)}
	}
	return nil
}

// SetRibbon tells the printer which ribbon is in (Pr, guide page 25) — what
// a technician does after looking at the ribbon, when the printer's memory
// (Rr) names another.
func (d *Driver) SetRibbon(ctx context.Context, ribbon string) error {
	if _, err := raster.RibbonPanels(ribbon); err != nil {
		return &printer.Error{Printer: d.name, Op: "set ribbon", Kind: printer.KindRefused, Position: d.pos, Detail: err.Error()}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.do(ctx, "set ribbon", d.t.Read, d.pos, false, frame("Pr", ribbon), wantOK); err != nil {
		return err
	}
	d.ribbon = ribbon
	return nil
}

// Ribbon returns the ribbon type the driver prints with: the configured
// one, or the printer's own (Rr) when none is configured.
func (d *Driver) Ribbon(ctx context.Context) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkRibbon(ctx); err != nil {
		return "", err
	}
	return d.ribbon, nil
}

// ReadRaw sends one read command (the guide's R… commands, which change
// nothing) and returns the printer's words as they came, for a technician's
// probe. An error word comes back as the error, its text in the
// *printer.Error's Detail. Anything that is not a read is refused.
func (d *Driver) ReadRaw(ctx context.Context, cmd string, params ...string) (string, error) {
	ok := len(cmd) >= 2 && len(cmd) <= 8 && cmd[0] == 'R'
	for _, c := range cmd {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
	}
	for _, p := range params {
		ok = ok && len(p) <= 16 && !strings.ContainsAny(p, ";\r\n\x00\x1b")
	}
	if !ok {
		return "", &printer.Error{Printer: d.name, Op: "probe", Kind: printer.KindRefused, Position: d.pos,
			Detail: fmt.Sprintf("%q is not a read command (R… with short parameters)", strings.Join(append([]string{cmd}, params...), ";"))}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.read(ctx, "probe "+strings.Join(append([]string{cmd}, params...), ";"), wantText, cmd, params...)
}

// Feed sets the ribbon, starts a card sequence and takes a blank from the
// feeder.
//
// It refuses while the printer holds a card (one left by a crash or a
// failed reject, say): a second blank on top of it would jam, and the
// engine has to decide what the first one is.
func (d *Driver) Feed(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.pos {
	case printer.PositionPrintHead, printer.PositionContactless, printer.PositionContact, printer.PositionFeeder:
		return &printer.Error{Printer: d.name, Op: "feed", Kind: printer.KindRefused, Position: d.pos,
			Detail: "a card is already in the printer; eject or reject it first"}
	}
	if err := d.checkRibbon(ctx); err != nil {
		return err
	}
	if _, err := d.do(ctx, "set ribbon", d.t.Read, d.pos, false, frame("Pr", d.ribbon), wantOK); err != nil {
		return err
	}
	if _, err := d.do(ctx, "start sequence", d.t.Read, d.pos, false, frame("Ss"), wantOK); err != nil {
		return err
	}
	d.printed = false
	if _, err := d.do(ctx, "feed", d.t.Move, printer.PositionFeeder, false, frame("Si"), wantOK); err != nil {
		return err
	}
	d.pos = printer.PositionPrintHead
	d.jammed = false
	d.log.Info().Msg("card fed")
	return nil
}

// MoveTo parks the card at a station. Sic and Sis move a card already in
// the printer (QEvolisPrinter moves a printed card with Sis; esup-sgc-client
// with Sic). There is no command that only brings a card back under the
// head — Sr and Sv only choose the side for downloads (guide page 43) — so
// StationPrint sends nothing: the first download does it.
func (d *Driver) MoveTo(ctx context.Context, st printer.Station) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var cmd string
	switch st {
	case printer.StationContactless:
		cmd = "Sic"
	case printer.StationContact:
		cmd = "Sis"
	case printer.StationPrint:
		if d.pos == printer.PositionNone {
			return &printer.Error{Printer: d.name, Op: "move to print", Kind: printer.KindRefused, Position: d.pos, Detail: "no card in the printer; feed one first"}
		}
		return nil
	default:
		return &printer.Error{Printer: d.name, Op: "move", Kind: printer.KindRefused, Position: d.pos, Detail: "unknown station " + st.String()}
	}
	to := printer.StationPosition(st)
	if _, err := d.do(ctx, "move to "+st.String(), d.t.Move, to, false, frame(cmd), wantOK); err != nil {
		return err
	}
	d.pos = to
	d.jammed = false
	d.log.Info().Str("station", st.String()).Msg("card moved")
	return nil
}

// Print prints one side: select the side, then download each panel. Each
// download after the first prints the panel before it; the last one prints
// at Se (Eject), or at the next side's Sr/Sv.
func (d *Driver) Print(ctx context.Context, side printer.Side, p *raster.Panels) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	op := "print " + side.String()
	if p == nil || len(p.List()) == 0 {
		return &printer.Error{Printer: d.name, Op: op, Kind: printer.KindRefused, Position: d.pos, Detail: "no panels to print"}
	}
	if d.pos == printer.PositionNone {
		return &printer.Error{Printer: d.name, Op: op, Kind: printer.KindRefused, Position: d.pos, Detail: "no card in the printer; feed one first"}
	}
	have, err := raster.RibbonPanels(d.ribbon)
	if err != nil {
		return &printer.Error{Printer: d.name, Op: op, Kind: printer.KindRibbonMismatch, Position: d.pos, Detail: err.Error()}
	}
	if side == printer.Back && d.ribbon == "ymckok" {
		have = "k"
	}
	for _, pn := range p.List() {
		if !strings.ContainsRune(have, rune(pn.Name)) {
			return &printer.Error{Printer: d.name, Op: op, Kind: printer.KindRibbonMismatch, Position: d.pos,
				Detail: fmt.Sprintf("panel %c is not on the %s ribbon this printer has", pn.Name, d.ribbon)}
		}
	}
	sel := "Sr"
	if side == printer.Back {
		sel = "Sv"
	}
	if _, err := d.do(ctx, op+": select side", d.t.Read, d.pos, false, frame(sel), wantOK); err != nil {
		return err
	}
	for _, pn := range p.List() {
		name := string(pn.Name)
		timeout := d.t.Bitmap
		if d.printed {
			timeout += d.t.Print // this download prints the panel before it
		}
		if _, err := d.doParts(ctx, op+": download panel "+name, timeout, printer.PositionPrintHead, false, d.bitmapParts(pn), wantOK); err != nil {
			return err
		}
		d.pos = printer.PositionPrintHead
		d.printed = true
	}
	d.jammed = false
	d.log.Info().Str("side", side.String()).Str("ribbon", d.ribbon).Msg("side downloaded")
	return nil
}

// Bitmap encodes one panel download. With compress, the K and O panels use
// Dbc, where each line starts with 0 (white line), 255 (black line) or N (N
// bytes follow, the rest of the line is white) — guide §4 page 5. The guide
// defines that line form for K and O only, so Y, M and C always go as Db.
func Bitmap(p *raster.Panel, compress bool) []byte {
	levels := strconv.Itoa(p.Levels)
	if !compress || p.Levels != 2 || (p.Name != 'k' && p.Name != 'o') {
		b := make([]byte, 0, len(p.Data)+16)
		b = append(b, 0x1b)
		b = append(b, "Db;"...)
		b = append(b, p.Name, ';')
		b = append(b, levels...)
		b = append(b, ';')
		b = append(b, p.Data...)
		return append(b, '\r')
	}
	data := CompressLines(p)
	b := make([]byte, 0, len(data)+24)
	b = append(b, 0x1b)
	b = append(b, "Dbc;"...)
	b = append(b, p.Name, ';')
	b = append(b, levels...)
	b = append(b, ';')
	b = strconv.AppendInt(b, int64(len(data)), 10)
	b = append(b, ';')
	b = append(b, data...)
	return append(b, '\r')
}

// bitmapParts is Bitmap as the parts exchange writes in turn: the header,
// the panel's data itself (Db) or its lines compressed into the driver's
// kept buffer (Dbc), and CR. Nothing of the panel is copied for Db.
func (d *Driver) bitmapParts(p *raster.Panel) [][]byte {
	levels := strconv.Itoa(p.Levels)
	var h []byte
	if !d.compress || p.Levels != 2 || (p.Name != 'k' && p.Name != 'o') {
		h = append(h, 0x1b)
		h = append(h, "Db;"...)
		h = append(h, p.Name, ';')
		h = append(h, levels...)
		h = append(h, ';')
		return [][]byte{h, p.Data, {'\r'}}
	}
	d.dbc = compressLinesTo(d.dbc[:0], p)
	h = append(h, 0x1b)
	h = append(h, "Dbc;"...)
	h = append(h, p.Name, ';')
	h = append(h, levels...)
	h = append(h, ';')
	h = strconv.AppendInt(h, int64(len(d.dbc)), 10)
	h = append(h, ';')
	return [][]byte{h, d.dbc, {'\r'}}
}

// CompressLines is the Dbc line compression of a 2-level panel.
func CompressLines(p *raster.Panel) []byte {
	return compressLinesTo(make([]byte, 0, raster.Lines*4), p)
}

// compressLinesTo appends the Dbc line compression of p to out.
func compressLinesTo(out []byte, p *raster.Panel) []byte {
	lb := p.LineBytes()
	for n := 0; n < raster.Lines; n++ {
		line := p.Line(n)
		end := len(line)
		for end > 0 && line[end-1] == 0 {
			end--
		}
		switch {
		case end == 0:
			out = append(out, 0)
		case end == lb && allFF(line):
			out = append(out, 255)
		default:
			out = append(out, byte(end))
			out = append(out, line[:end]...)
		}
	}
	return out
}

func allFF(b []byte) bool {
	for _, c := range b {
		if c != 0xff {
			return false
		}
	}
	return true
}

// Eject ends the sequence: the last panel prints and the card goes to the
// output hopper (Se, guide page 42).
func (d *Driver) Eject(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	timeout := d.t.End
	if d.printed {
		timeout += d.t.Print
	}
	if _, err := d.do(ctx, "eject", timeout, printer.PositionOutput, false, frame("Se"), wantOK); err != nil {
		return err
	}
	d.pos = printer.PositionNone
	d.jammed = false
	d.printed = false
	d.log.Info().Msg("card ejected")
	return nil
}

// Reject sends the card to the reject box, which ends the sequence.
func (d *Driver) Reject(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.do(ctx, "reject", d.t.End, printer.PositionReject, false, frame("Ser"), wantOK); err != nil {
		return err
	}
	d.pos = printer.PositionNone
	d.jammed = false
	d.printed = false
	d.log.Info().Msg("card rejected")
	return nil
}

// Close drops the link.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}

// sensorNames: the guide's Rse letters (page 37) and f, the input feeder
// (guide Ase page 13, QEvolisPrinter).
var sensorNames = map[string]string{
	"c": "colour (ribbon mark)",
	"f": "input feeder",
	"m": "feeder stop / magnetic",
	"o": "cover",
	"p": "card presence",
	"r": "coded disk rotation",
}

// SensorCodes are the sensors Sensors reads, in order.
var SensorCodes = []string{"c", "f", "m", "o", "p", "r"}

// Sensors reads every sensor's voltage.
func (d *Driver) Sensors(ctx context.Context) ([]printer.Sensor, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []printer.Sensor
	for _, code := range SensorCodes {
		v, err := d.sensor(ctx, code)
		if printer.KindOf(err) == printer.KindRefused {
			continue
		}
		if err != nil {
			return out, err
		}
		s := printer.Sensor{Code: code, Name: sensorNames[code], Volts: v}
		switch code {
		case "o":
			s.Reading = map[bool]string{true: "open", false: "closed"}[v < 1.0]
		case "f":
			s.Reading = map[bool]string{true: "empty", false: "cards present"}[v < 2.5]
		case "p":
			s.Reading = map[bool]string{true: "no card", false: "card"}[v < 2.5]
		}
		out = append(out, s)
	}
	return out, nil
}

func (d *Driver) service(ctx context.Context, op, cmd string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.do(ctx, op, d.t.Service, d.pos, false, frame(cmd), wantOK)
	return err
}

// Clean runs a cleaning cycle (a cleaning card must be in the feeder).
func (d *Driver) Clean(ctx context.Context) error { return d.service(ctx, "cleaning", "Scp") }

// TestCard prints the printer's own test card. It takes a blank.
func (d *Driver) TestCard(ctx context.Context) error { return d.service(ctx, "test card", "St") }

// SelfAdjust runs the sensor self-adjustment.
func (d *Driver) SelfAdjust(ctx context.Context) error { return d.service(ctx, "self-adjust", "Sa") }

// Reset is a software reset; the printer forgets the sequence, so the
// driver forgets where the card was.
func (d *Driver) Reset(ctx context.Context) error {
	err := d.service(ctx, "reset", "Srs")
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pos = printer.PositionUnknown
	d.printed = false
	if err == nil {
		d.jammed = false
	}
	if err == nil && d.conn != nil {
		d.locate(ctx)
	}
	return err
}
