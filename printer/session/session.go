package session

// Record and replay at the transport, in the manner of periph's conntest:
// a Recorder sits between a driver and its printer.Conn and writes every
// byte each way to a session file; a Player reads that file back and is the
// printer — it answers what the printer answered and fails when the host
// sends anything other than what the recording shows. A technician's
// session on a real printer (printstationctl diag printer --record FILE)
// dropped into testdata becomes a regression test with no code change.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"printstation/printer"
)

// SessionVersion is the format of session files this package writes.
const SessionVersion = 1

// Meta heads a session file: what was run, against what.
type Meta struct {
	Version  int       `json:"version"`
	Driver   string    `json:"driver"`
	Addr     string    `json:"addr"`
	Args     []string  `json:"args"` // the diag command and its arguments, e.g. ["probe"]
	Recorded time.Time `json:"recorded"`
	Tool     string    `json:"tool,omitempty"` // what recorded it, with its version
}

// End closes a session file: how the run ended, for a replay to compare.
type End struct {
	Exit   int    `json:"exit"`
	Output string `json:"output"`
}

// Event is one thing that happened on the link.
type Event struct {
	Op   string `json:"op"`             // "dial", "w" (host to printer), "r" (printer to host), "close"
	Data []byte `json:"data,omitempty"` // the bytes (base64 in the file)
	// Text repeats Data for a person reading the file, when it is short
	// printable text ("\x1bRse;f\r", "5,00 Volts\x00"); it is not used on
	// replay.
	Text string `json:"text,omitempty"`
	// Err is what a failed call returned: "timeout", "disconnected" or
	// the error's text.
	Err string `json:"err,omitempty"`
}

// line is one line of a session file.
type line struct {
	Meta  *Meta  `json:"meta,omitempty"`
	Event *Event `json:"event,omitempty"`
	End   *End   `json:"end,omitempty"`
}

// maxLine bounds one line of a session file: a 128-level panel is 592 KB,
// about 790 KB in base64.
const maxLine = 4 << 20

// Recorder writes a session file.
type Recorder struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

// NewRecorder starts a session file on w.
func NewRecorder(w io.Writer, m Meta) (*Recorder, error) {
	m.Version = SessionVersion
	r := &Recorder{enc: json.NewEncoder(w)}
	r.put(line{Meta: &m})
	return r, r.err
}

func (r *Recorder) put(l line) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		if err := r.enc.Encode(l); err != nil {
			r.err = fmt.Errorf("session file: %w", err)
		}
	}
}

func (r *Recorder) event(op string, data []byte, err error) {
	ev := &Event{Op: op}
	if len(data) > 0 {
		ev.Data = append([]byte(nil), data...)
		if len(data) <= 256 && printable(data) {
			ev.Text = string(data)
		}
	}
	if err != nil {
		ev.Err = errText(err)
	}
	r.put(line{Event: ev})
}

// Finish writes how the run ended and reports the first write error.
func (r *Recorder) Finish(e End) error {
	r.put(line{End: &e})
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Dialer wraps d: every connection it makes is recorded.
func (r *Recorder) Dialer(d printer.Dialer) printer.Dialer {
	return func(ctx context.Context) (printer.Conn, error) {
		c, err := d(ctx)
		r.event("dial", nil, err)
		if err != nil {
			return nil, err
		}
		return &recordConn{c: c, r: r}, nil
	}
}

type recordConn struct {
	c printer.Conn
	r *Recorder
}

func (c *recordConn) Write(ctx context.Context, p []byte) (int, error) {
	n, err := c.c.Write(ctx, p)
	c.r.event("w", p[:n], err)
	return n, err
}

func (c *recordConn) Read(ctx context.Context, p []byte) (int, error) {
	n, err := c.c.Read(ctx, p)
	c.r.event("r", p[:n], err)
	return n, err
}

func (c *recordConn) Close() error {
	c.r.event("close", nil, nil)
	return c.c.Close()
}

func errText(err error) string {
	switch printer.KindOf(err) {
	case printer.KindTimeout:
		return "timeout"
	case printer.KindDisconnected:
		return "disconnected"
	}
	switch {
	case errors.Is(err, printer.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, printer.ErrDisconnected), errors.Is(err, io.EOF):
		return "disconnected"
	}
	return err.Error()
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c >= 0x7f || (c < 0x20 && c != 0x1b && c != '\r' && c != '\n' && c != 0) {
			return false
		}
	}
	return true
}

// Session is a session file read back.
type Session struct {
	Meta   Meta
	Events []Event
	End    *End // nil when the recording was cut short
}

// ReadSession parses a session file.
func ReadSession(rd io.Reader) (*Session, error) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	s := &Session{}
	n := 0
	for sc.Scan() {
		n++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("session file line %d: %w", n, err)
		}
		switch {
		case l.Meta != nil:
			if n != 1 {
				return nil, fmt.Errorf("session file line %d: a second header", n)
			}
			if l.Meta.Version != SessionVersion {
				return nil, fmt.Errorf("session file: version %d; this build reads version %d", l.Meta.Version, SessionVersion)
			}
			s.Meta = *l.Meta
		case l.Event != nil:
			switch l.Event.Op {
			case "dial", "w", "r", "close":
			default:
				return nil, fmt.Errorf("session file line %d: unknown event %q", n, l.Event.Op)
			}
			s.Events = append(s.Events, *l.Event)
		case l.End != nil:
			s.End = l.End
		default:
			return nil, fmt.Errorf("session file line %d: neither meta, event nor end", n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("session file: %w", err)
	}
	if n == 0 || s.Meta.Version == 0 {
		return nil, fmt.Errorf("session file: no header line; is this a file from diag printer --record?")
	}
	return s, nil
}

// ErrMismatch: the host did something the recording does not show.
var ErrMismatch = errors.New("replay: the host departs from the recording")

// Player replays a Session as the printer.
type Player struct {
	mu     sync.Mutex
	events []Event
	i      int // next event
	off    int // bytes of events[i] already consumed
	err    error
	wrote  int // host bytes matched so far, for messages
}

// NewPlayer plays s.
func NewPlayer(s *Session) *Player { return &Player{events: s.Events} }

// Dial is a printer.Dialer: the recording must show a dial here.
func (p *Player) Dial(ctx context.Context) (printer.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev, err := p.next("dial")
	if err != nil {
		return nil, err
	}
	p.i++
	if ev.Err != "" {
		return nil, replayErr(ev.Err)
	}
	return &playConn{p: p}, nil
}

// Done reports the first departure from the recording, or events the
// host never asked for.
func (p *Player) Done() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	// A trailing close (or a read the host never made after its last
	// command) is not a departure.
	for _, ev := range p.events[p.i:] {
		if ev.Op == "w" {
			return fmt.Errorf("%w: the recording goes on with %d more host bytes (%q…)", ErrMismatch, len(ev.Data), clip(ev.Data))
		}
	}
	return nil
}

func (p *Player) fail(format string, args ...any) error {
	err := fmt.Errorf("%w: "+format, append([]any{ErrMismatch}, args...)...)
	if p.err == nil {
		p.err = err
	}
	return err
}

// next returns the upcoming event, which must be op.
func (p *Player) next(op string) (Event, error) {
	if p.err != nil {
		return Event{}, p.err
	}
	// a close by the host has no counterpart to wait for
	for p.i < len(p.events) && p.events[p.i].Op == "close" && op != "close" {
		p.i, p.off = p.i+1, 0
	}
	if p.i >= len(p.events) {
		return Event{}, p.fail("the host wants %s after the end of the recording", opName(op))
	}
	ev := p.events[p.i]
	if ev.Op != op {
		return Event{}, p.fail("the host wants %s at event %d, the recording has %s", opName(op), p.i+1, opName(ev.Op))
	}
	return ev, nil
}

func opName(op string) string {
	return map[string]string{"dial": "to connect", "w": "to write", "r": "to read", "close": "to close"}[op]
}

type playConn struct {
	p      *Player
	closed bool
}

func (c *playConn) Write(ctx context.Context, b []byte) (int, error) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	done := 0
	for done < len(b) {
		ev, err := p.next("w")
		if err != nil {
			return done, err
		}
		if ev.Err != "" && p.off == len(ev.Data) {
			p.i, p.off = p.i+1, 0
			return done, replayErr(ev.Err)
		}
		rest := ev.Data[p.off:]
		n := min(len(rest), len(b)-done)
		for k := 0; k < n; k++ {
			if rest[k] != b[done+k] {
				return done, p.fail("host byte %d is %q, the recording has %q (host wrote %q…, recorded %q…)",
					p.wrote+k, b[done+k], rest[k], clip(b[done:]), clip(rest))
			}
		}
		done += n
		p.wrote += n
		p.off += n
		if p.off == len(ev.Data) && ev.Err == "" {
			p.i, p.off = p.i+1, 0
		}
	}
	return done, nil
}

func (c *playConn) Read(ctx context.Context, b []byte) (int, error) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	ev, err := p.next("r")
	if err != nil {
		return 0, err
	}
	rest := ev.Data[p.off:]
	n := copy(b, rest)
	p.off += n
	if p.off < len(ev.Data) {
		return n, nil
	}
	p.i, p.off = p.i+1, 0
	if ev.Err != "" {
		return n, replayErr(ev.Err)
	}
	return n, nil
}

func (c *playConn) Close() error {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if p.i < len(p.events) && p.events[p.i].Op == "close" {
		p.i, p.off = p.i+1, 0
	}
	return nil
}

func replayErr(s string) error {
	switch s {
	case "timeout":
		return printer.Link(printer.KindTimeout, "no answer in time (recorded)")
	case "disconnected":
		return printer.Link(printer.KindDisconnected, "link closed (recorded)")
	}
	return fmt.Errorf("recorded error: %s", s)
}

func clip(b []byte) []byte {
	if len(b) > 24 {
		return b[:24]
	}
	return b
}
