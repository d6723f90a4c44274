// Package evolis drives Evolis card printers with the Evolis command
// language (ESC, command, ';'-separated parameters, CR), in host error
// handling mode (Pem;2): the printer stops on an error and tells us, and the
// station decides what to do with the card.
//
// A card goes:
//
//	Ss, Si              Feed: start a sequence, take a blank
//	Sic / Sis / Sr      MoveTo contactless / contact / print head
//	Sr|Sv, Pr;ribbon,   Print one side: select the side, the ribbon, then
//	  (Db|Dbc, Sp)…       download and print each panel
//	Se | Ser            Eject to the hopper | Reject to the reject box
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
	log      zerolog.Logger
	pos      printer.Position // where we last put the card
	closed   bool
	jammed   bool // the card at pos jammed and nobody has cleared it
	// pemPending: the printer was busy when we connected and has not yet
	// taken Pem;2.
	pemPending bool
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
	if _, err := d.exchange(ctx, "connect", d.t.Read, frame("Pem", "2")); err != nil {
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
	text, err := d.exchange(ctx, "read card presence", d.t.Read, frame("Rlr", "p"))
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

// exchange writes one command and reads its reply on the current link.
func (d *Driver) exchange(ctx context.Context, op string, timeout time.Duration, cmd []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := d.conn.Write(ctx, cmd); err != nil {
		return "", err
	}
	line, err := d.rr.next(ctx, d.conn)
	if err != nil {
		return "", err
	}
	text, rerr := parseReply(line)
	if rerr != nil {
		return text, rerr
	}
	return text, nil
}

// do runs one command: (re)connect if needed, send, read, classify. pos is
// where the card will be if the command fails mechanically.
func (d *Driver) do(ctx context.Context, op string, timeout time.Duration, pos printer.Position, idempotent bool, cmd []byte) (string, error) {
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
			if _, err = d.exchange(ctx, op, d.t.Read, frame("Pem", "2")); err == nil {
				d.pemPending = false
			}
		}
		if err == nil {
			text, err = d.exchange(ctx, op, timeout, cmd)
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

func (d *Driver) read(ctx context.Context, op string, cmd string, params ...string) (string, error) {
	return d.do(ctx, op, d.t.Read, d.pos, true, frame(cmd, params...))
}

// Info reads model, serial number and firmware.
func (d *Driver) Info(ctx context.Context) (printer.Info, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	info := printer.Info{Driver: Name, Addr: d.addr}
	var err error
	if info.Model, err = d.read(ctx, "read model", "Rtp"); err != nil {
		return info, err
	}
	if info.Serial, err = d.read(ctx, "read serial number", "Rsn"); err != nil {
		return info, err
	}
	if info.Firmware, err = d.read(ctx, "read firmware", "Rfv"); err != nil {
		return info, err
	}
	if kit, err := d.read(ctx, "read head kit", "Rkn"); err == nil {
		info.HeadKit = kit
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

func (d *Driver) counter(ctx context.Context, what, p string) (int64, error) {
	op := "read counter " + what
	s, err := d.read(ctx, op, "Rco", p)
	if err != nil {
		return 0, err
	}
	v, perr := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if perr != nil || v < 0 {
		return 0, &printer.Error{Printer: d.name, Op: op, Kind: printer.KindProtocol, Position: d.pos, Detail: fmt.Sprintf("counter reply %q is not a count", clip([]byte(s)))}
	}
	return v, nil
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
	if v, err := d.sensor(ctx, "m"); err == nil {
		st.FeederEmpty = v < 2.5
	} else if !skip(err) {
		return st, err
	}
	if s, err := d.read(ctx, "read card presence", "Rlr", "p"); err == nil || printer.KindOf(err) == printer.KindOther {
		if err != nil {
			var pe *printer.Error
			errors.As(err, &pe)
			s = pe.Detail
		}
		st.Card = d.presence(s)
	} else if !skip(err) {
		return st, err
	}
	if _, err := d.read(ctx, "read ribbon", "Rcr"); err != nil {
		switch printer.KindOf(err) {
		case printer.KindRibbonOut:
			st.RibbonOut = true
		case printer.KindRefused:
		default:
			return st, err
		}
	}
	if _, err := d.read(ctx, "read cleaning state", "Rlr", "r"); err != nil {
		switch printer.KindOf(err) {
		case printer.KindNeedsCleaning:
			st.NeedsCleaning = true
		case printer.KindRefused:
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

// presence interprets Rlr;p.
func (d *Driver) presence(s string) printer.Position {
	switch u := strings.ToUpper(strings.TrimSpace(s)); {
	case u == "NO CARD" || u == "OK":
		d.pos = printer.PositionNone
	case strings.HasPrefix(u, "CONTACTLESS"):
		d.pos = printer.PositionContactless
	case strings.HasPrefix(u, "SMART"):
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
	op := "read sensor " + code
	s, err := d.read(ctx, op, "Rse", code)
	if err != nil {
		return 0, err
	}
	v, perr := parseVolts(s)
	if perr != nil {
		return 0, &printer.Error{Printer: d.name, Op: op, Kind: printer.KindProtocol, Position: d.pos, Detail: perr.Error()}
	}
	return v, nil
}

// parseVolts reads a sensor voltage; printers write a comma as decimal point.
func parseVolts(s string) (float64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "V"), "v")
	t = strings.ReplaceAll(strings.TrimSpace(t), ",", ".")
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v >= -50 && v <= 50) { // also refuses NaN
		return 0, fmt.Errorf("sensor reply %q is not a voltage", clip([]byte(s)))
	}
	return v, nil
}

// Feed starts a card sequence and takes a blank from the feeder.
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
	if _, err := d.do(ctx, "start sequence", d.t.Read, d.pos, false, frame("Ss")); err != nil {
		return err
	}
	if _, err := d.do(ctx, "feed", d.t.Move, printer.PositionFeeder, false, frame("Si")); err != nil {
		return err
	}
	d.pos = printer.PositionPrintHead
	d.jammed = false
	d.log.Info().Msg("card fed")
	return nil
}

// MoveTo parks the card at a station.
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
		cmd = "Sr"
	default:
		return &printer.Error{Printer: d.name, Op: "move", Kind: printer.KindRefused, Position: d.pos, Detail: "unknown station " + st.String()}
	}
	to := printer.StationPosition(st)
	if _, err := d.do(ctx, "move to "+st.String(), d.t.Move, to, false, frame(cmd)); err != nil {
		return err
	}
	d.pos = to
	d.jammed = false
	d.log.Info().Str("station", st.String()).Msg("card moved")
	return nil
}

// Print prints one side: select side and ribbon, then download and print
// each panel in order.
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
	sel := "Sr"
	if side == printer.Back {
		sel = "Sv"
	}
	if _, err := d.do(ctx, op+": select side", d.t.Move, printer.PositionPrintHead, false, frame(sel)); err != nil {
		return err
	}
	d.pos = printer.PositionPrintHead
	d.jammed = false
	if _, err := d.do(ctx, op+": set ribbon", d.t.Read, d.pos, false, frame("Pr", p.Ribbon())); err != nil {
		return err
	}
	for _, pn := range p.List() {
		name := string(pn.Name)
		if _, err := d.do(ctx, op+": download panel "+name, d.t.Bitmap, d.pos, false, Bitmap(pn, d.compress)); err != nil {
			return err
		}
		if _, err := d.do(ctx, op+": print panel "+name, d.t.Print, printer.PositionPrintHead, false, frame("Sp", name)); err != nil {
			return err
		}
	}
	d.log.Info().Str("side", side.String()).Str("ribbon", p.Ribbon()).Msg("side printed")
	return nil
}

// Bitmap encodes one panel download. With compress, 2-level panels (K, O)
// use Dbc, where each line starts with 0 (white line), 255 (black line) or
// N (N bytes follow, the rest of the line is white).
func Bitmap(p *raster.Panel, compress bool) []byte {
	levels := strconv.Itoa(p.Levels)
	if !compress || p.Levels != 2 {
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

// CompressLines is the Dbc line compression of a 2-level panel.
func CompressLines(p *raster.Panel) []byte {
	lb := p.LineBytes()
	out := make([]byte, 0, raster.Lines*4)
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

// Eject ends the sequence: the card goes to the output hopper.
func (d *Driver) Eject(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.do(ctx, "eject", d.t.End, printer.PositionOutput, false, frame("Se")); err != nil {
		return err
	}
	d.pos = printer.PositionNone
	d.jammed = false
	d.log.Info().Msg("card ejected")
	return nil
}

// Reject sends the card to the reject box, which ends the sequence.
func (d *Driver) Reject(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.do(ctx, "reject", d.t.End, printer.PositionReject, false, frame("Ser")); err != nil {
		return err
	}
	d.pos = printer.PositionNone
	d.jammed = false
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

var sensorNames = map[string]string{
	"c": "colour (ribbon mark)",
	"m": "feeder",
	"o": "cover",
	"p": "card presence",
	"r": "coded disk rotation",
}

// Sensors reads every sensor's voltage.
func (d *Driver) Sensors(ctx context.Context) ([]printer.Sensor, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []printer.Sensor
	for _, code := range []string{"c", "m", "o", "p", "r"} {
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
		case "m":
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
	_, err := d.do(ctx, op, d.t.Service, d.pos, false, frame(cmd))
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
	if err == nil {
		d.jammed = false
	}
	if err == nil && d.conn != nil {
		d.locate(ctx)
	}
	return err
}
