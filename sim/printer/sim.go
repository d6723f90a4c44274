// Package simprinter is a card printer simulator that speaks the Evolis
// command language, byte for byte, over TCP or an in-process pipe.
//
// It keeps the physical state a station depends on: blanks in the feeder,
// prints left on the ribbon, the cards-inserted counter (persisted in
// OutDir/state.json so a restarted simulator keeps counting), where the card
// is, the reject box and its capacity, the cover. It models time with a
// speed factor, fails on cue (Fault), calls Config.OnStation when a card
// reaches or leaves the contactless station, draws every printed card as a
// PNG and keeps a journal of physical events (OutDir/journal.jsonl), synced
// to disk before the reply that reports the event goes out: after a crash
// the journal is the truth about what the printer did.
//
// It is as strict as the sources let us be (docs/printer/evolis.md): a
// panel download prints the panel downloaded before it and Se prints the
// last (guide §21), so a host that also sends Sp prints panels twice — the
// simulator records that as a misprint; the ribbon (Pr) is taken at Ss, so
// a Pr inside a sequence only counts for the next card; sensors answer
// "5,00 Volts"; the card PNG is drawn from the panel lines the way the
// vendor's driver lays them out (each line a column of the card from its
// left edge, point 0 at the bottom edge), with a decoder of its own, so a
// mirrored stream shows mirrored.
package simprinter

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"printstation/printer/raster"
)

// StationEvent tells the test bed that card Card has reached (Arrived) or
// left the contactless station.
type StationEvent struct {
	Card    int
	Arrived bool
}

// Config describes the simulated printer. The zero value is a fast printer
// with 100 blanks, a 250-print YMCKO ribbon and no output directory.
type Config struct {
	Serial, Model, Firmware string
	// Speed scales the timing model: 1 is a real printer's pace (about 2 s
	// to feed, 3 s a panel, 15 s a YMCKO side); 0, or 1000 and more, does
	// not wait at all.
	Speed float64
	// OutDir receives state.json, journal.jsonl and card PNGs; "" keeps
	// everything in memory.
	OutDir string
	// Feeder is the number of blanks loaded at start (default 100). A saved
	// state keeps its own count unless Feeder is set.
	Feeder         int
	Ribbon         string // installed ribbon type, default "ymcko"
	RibbonPrints   int    // prints on a fresh ribbon, default 250
	RejectCapacity int    // default 20
	// CoverOpenFor is how long a scripted cover_open fault keeps the cover
	// open; 0 closes it as soon as the failed command has answered.
	CoverOpenFor time.Duration
	// ReplyEnd ends each reply: "\r" (default), "\n", "\x00", "\r\n",
	// or "none" for replies with no terminator at all (the host has to
	// notice the line went quiet).
	ReplyEnd string
	// SplitReplies writes each reply in two pieces, as slow links do.
	SplitReplies bool
	Faults       []Fault
	// OnStation is called synchronously, before the reply to the move goes
	// out, when a card reaches or leaves the contactless station.
	OnStation func(StationEvent)
	Log       zerolog.Logger
	Now       func() time.Time
}

// State is what the simulator persists in OutDir/state.json.
type State struct {
	CardsInserted int64 `json:"cards_inserted"`
	PanelsPrinted int64 `json:"panels_printed"`
	Cleanings     int64 `json:"cleanings"`
	LastCard      int   `json:"last_card"`
	Feeder        int   `json:"feeder"`
	RibbonLeft    int   `json:"ribbon_left"`
	// RibbonRemoved: a person took the ribbon out (for a cleaning cycle,
	// which a printer runs only without one: guide Scp page 41).
	RibbonRemoved bool `json:"ribbon_removed,omitempty"`
	RejectCount   int  `json:"reject_count"`
	// Misprints counts panels printed twice on one card (an Sp after a
	// download that the next download prints again).
	Misprints  int   `json:"misprints,omitempty"`
	JournalSeq int64 `json:"journal_seq"`
	// Inside is the card in the printer, if any: a restarted (power-cycled)
	// printer still holds it, jammed or not.
	Inside *Inside `json:"inside,omitempty"`
}

// Inside is a card in the printer.
type Inside struct {
	Card     int    `json:"card"`
	Position string `json:"position"`
	Jammed   bool   `json:"jammed,omitempty"`
}

// Snapshot is what a test can see of the printer.
type Snapshot struct {
	State
	Card      int    // number of the card inside, 0 if none
	Position  string // "", "feeder", "print", "contactless", "contact", "exit"
	Jammed    bool
	CoverOpen bool
}

// Event is one line of the journal.
type Event struct {
	Seq     int64     `json:"seq"`
	Card    int       `json:"card"`
	Event   string    `json:"event"` // blank_taken, at_contactless, printed, misprint, card_out, card_rejected, card_removed
	Counter int64     `json:"counter"`
	Side    string    `json:"side,omitempty"`
	Time    time.Time `json:"time"`
}

type card struct {
	n       int
	pos     string
	side    int // 0 front, 1 back
	pending [2]map[byte]*raster.Panel
	// queued is the last panel downloaded, printed by the next download,
	// side change or Se.
	queued   *raster.Panel
	qside    int
	printed  [2]*raster.Panels
	prints   [2]map[byte]int // how often each panel was printed
	anyPrint [2]bool
}

// Sim is a simulated printer.
type Sim struct {
	cfg     Config
	initErr error

	mu       sync.Mutex
	st       State
	card     *card
	side     int // side selected before a card is in
	pending  [2]map[byte]*raster.Panel
	jammed   bool
	cover    bool
	ribbon   string // the ribbon type set by Pr (printer memory)
	inSeq    bool   // between Ss and the end of the sequence
	seqRib   string // the ribbon taken at Ss for the card in progress
	busy     bool
	faults   []Fault
	journal  *os.File
	events   []Event
	closed   bool
	done     chan struct{}
	conns    map[net.Conn]bool
	lns      []net.Listener
	wg       sync.WaitGroup
	coverTmr *time.Timer
}

// New makes a simulator. If OutDir holds a state it cannot read, the
// simulator refuses to serve (Serve returns the error, Pipe's connection is
// closed at once): silently starting from zero would break the counters a
// station relies on. Use Open to get the error directly.
func New(cfg Config) *Sim {
	s, err := Open(cfg)
	if err != nil {
		s.initErr = err
	}
	return s
}

// Open is New that reports a state or journal it cannot open.
func Open(cfg Config) (*Sim, error) {
	if cfg.Serial == "" {
		cfg.Serial = "SIM0001"
	}
	if cfg.Model == "" {
		cfg.Model = "Evolis Primacy (simulated)"
	}
	if cfg.Firmware == "" {
		cfg.Firmware = "SIM-1.0"
	}
	if cfg.Ribbon == "" {
		cfg.Ribbon = "ymcko"
	}
	if cfg.RibbonPrints == 0 {
		cfg.RibbonPrints = 250
	}
	if cfg.RejectCapacity == 0 {
		cfg.RejectCapacity = 20
	}
	if cfg.ReplyEnd == "" {
		cfg.ReplyEnd = "\r"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sim{cfg: cfg, done: make(chan struct{}), conns: map[net.Conn]bool{}, ribbon: cfg.Ribbon, seqRib: cfg.Ribbon}
	s.faults = append(s.faults, cfg.Faults...)
	s.st = State{Feeder: 100, RibbonLeft: cfg.RibbonPrints}
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return s, fmt.Errorf("printer simulator: output directory: %w", err)
		}
		b, err := os.ReadFile(filepath.Join(cfg.OutDir, "state.json"))
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &s.st); err != nil {
				return s, fmt.Errorf("printer simulator: %s is damaged (%v); move it away to start from zero counters", filepath.Join(cfg.OutDir, "state.json"), err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return s, fmt.Errorf("printer simulator: read state: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(cfg.OutDir, "journal.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return s, fmt.Errorf("printer simulator: journal: %w", err)
		}
		s.journal = f
	}
	if in := s.st.Inside; in != nil {
		pos := in.Position
		if pos == "contactless" || pos == "between" {
			pos = "print" // power-up moves the card back to the print position
		}
		s.card = &card{n: in.Card, pos: pos}
		s.jammed = in.Jammed
	}
	if cfg.Feeder > 0 {
		s.st.Feeder = cfg.Feeder
	}
	return s, s.saveLocked()
}

// Serve answers printer connections on l until Close.
func (s *Sim) Serve(l net.Listener) error {
	if s.initErr != nil {
		l.Close()
		return s.initErr
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return net.ErrClosed
	}
	s.lns = append(s.lns, l)
	s.mu.Unlock()
	for {
		c, err := l.Accept()
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
				return err
			}
		}
		s.start(c)
	}
}

// Pipe returns the host end of an in-process connection to the printer.
func (s *Sim) Pipe() net.Conn {
	host, dev := net.Pipe()
	if s.initErr != nil {
		dev.Close()
		return host
	}
	s.start(dev)
	return host
}

func (s *Sim) start(c net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.conns[c] = true
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.serveConn(c)
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
}

// Close stops serving and closes the journal.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	for _, l := range s.lns {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal != nil {
		return s.journal.Close()
	}
	return nil
}

// Snapshot returns the printer's state.
func (s *Sim) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := Snapshot{State: s.st, Jammed: s.jammed, CoverOpen: s.cover}
	if s.card != nil {
		sn.Card, sn.Position = s.card.n, s.card.pos
	}
	return sn
}

// Events returns the journal written so far by this Sim.
func (s *Sim) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// AddFault scripts one more fault.
func (s *Sim) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// SetCover opens or closes the cover.
func (s *Sim) SetCover(open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cover = open
}

// EmptyRejectBox is what the operator does when the reject box is full.
func (s *Sim) EmptyRejectBox() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.RejectCount = 0
	s.saveLocked()
}

// LoadFeeder adds n blanks to the feeder.
func (s *Sim) LoadFeeder(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Feeder += n
	s.saveLocked()
}

// reply is what the connection loop does after a command.
type reply struct {
	text    string
	raw     []byte // garbled bytes instead of text
	wait    time.Duration
	drop    bool // close the connection without answering
	station *StationEvent
	closeCv bool // close the cover after answering
}

func (s *Sim) serveConn(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		cmd, err := readCommand(r)
		// The mechanics start when the command is in: the simulator's own
		// work on it (the card's PNG at the eject, the journal's fsync)
		// happens during the mechanical time, as a printer's firmware
		// works while its motors run, and is not added to it — else the
		// pace would depend on how busy the simulator's CPU is, not on
		// the printer modelled (and the utilization benchmark, issue 18,
		// would measure the simulator).
		received := time.Now()
		if err != nil && !errors.Is(err, errBadCommand) {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
				s.cfg.Log.Debug().Err(err).Msg("printer sim: connection ends")
			}
			return
		}
		var rp reply
		if err != nil {
			s.cfg.Log.Debug().Err(err).Msg("printer sim: bad command")
			rp.text = "ERROR PARAMETRES"
		} else {
			rp = s.exec(cmd)
		}
		if rp.drop {
			s.mu.Lock()
			s.busy = false
			s.mu.Unlock()
			return
		}
		if !s.sleep(rp.wait - time.Since(received)) {
			return
		}
		if rp.station != nil && s.cfg.OnStation != nil {
			s.cfg.OnStation(*rp.station)
		}
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
		out := rp.raw
		if out == nil {
			out = []byte(rp.text)
		}
		if s.cfg.ReplyEnd != "none" {
			out = append(out, s.cfg.ReplyEnd...)
		}
		if s.cfg.SplitReplies && len(out) > 1 {
			h := len(out) / 2
			if _, err := c.Write(out[:h]); err != nil {
				return
			}
			out = out[h:]
		}
		if _, err := c.Write(out); err != nil {
			return
		}
		if rp.closeCv {
			s.closeCoverLater()
		}
	}
}

func (s *Sim) closeCoverLater() {
	if s.cfg.CoverOpenFor <= 0 {
		s.SetCover(false)
		return
	}
	time.AfterFunc(s.cfg.CoverOpenFor, func() { s.SetCover(false) })
}

// sleep waits d scaled by the speed factor; false if the sim closed.
func (s *Sim) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

func (s *Sim) pace(d time.Duration) time.Duration {
	if s.cfg.Speed <= 0 || s.cfg.Speed >= 1000 {
		return 0
	}
	return time.Duration(float64(d) / s.cfg.Speed)
}

// Timing at speed 1.
const (
	feedTime    = 2 * time.Second
	moveTime    = 1 * time.Second
	panelTime   = 3 * time.Second
	ejectTime   = 2 * time.Second
	cleanTime   = 30 * time.Second
	testTime    = 15 * time.Second
	adjustTime  = 5 * time.Second
	garbleBytes = "\x8f\xfe\x02O\x9bK\x7f"
)

func phaseOf(name string) Phase {
	switch name {
	case "Si":
		return PhaseFeed
	case "Sic", "Sis":
		return PhaseContactless
	case "Sp", "Db", "Dbc":
		return PhasePrint
	case "Se", "Ser", "Seb":
		return PhaseEject
	}
	return ""
}

// takeFault returns the fault scripted for this phase and card, if any.
func (s *Sim) takeFault(ph Phase, n int) *Fault {
	if ph == "" {
		return nil
	}
	for i := range s.faults {
		f := &s.faults[i]
		if f.Phase != ph || f.fired {
			continue
		}
		if f.Card == 0 || f.Card == n {
			if f.Card != 0 {
				f.fired = true
			}
			c := *f
			return &c
		}
	}
	return nil
}

func (s *Sim) exec(c *command) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	isRead := strings.HasPrefix(c.name, "R")
	if s.busy && !isRead {
		return reply{text: "PRINTER BUSY"}
	}
	ph := phaseOf(c.name)
	n := s.st.LastCard + 1
	if s.card != nil {
		n = s.card.n
	}
	if ph == PhaseFeed && s.card != nil {
		ph = "" // Si with a card inside only moves it
	}
	if ph == PhasePrint && s.card == nil {
		ph = "" // a download with no card in only fills memory
	}
	f := s.takeFault(ph, n)
	if f != nil {
		s.cfg.Log.Info().Str("fault", f.String()).Msg("printer sim: fault")
		switch f.Kind {
		case FaultBusy:
			return reply{text: "PRINTER BUSY"}
		case FaultDisconnect:
			if !f.After {
				return reply{drop: true}
			}
		case FaultGarbled:
			if !f.After {
				return reply{raw: []byte(garbleBytes)}
			}
		case FaultFeederEmpty:
			return reply{text: "FEEDER EMPTY"}
		case FaultRibbonEnd:
			s.st.RibbonLeft = 0
			s.saveLocked()
		case FaultRejectFull:
			s.st.RejectCount = s.cfg.RejectCapacity
			s.saveLocked()
		case FaultCoverOpen:
			s.cover = true
			return reply{text: "COVER OPEN", closeCv: true}
		case FaultJam:
			if ph == PhaseFeed || (s.card == nil && ph == PhaseContactless) {
				if s.st.Feeder <= 0 {
					return reply{text: "FEEDER EMPTY"}
				}
				s.takeBlank("feeder")
			}
			if s.card != nil {
				s.jammed = true
				s.saveLocked()
				return reply{text: "CARD JAM", wait: s.pace(moveTime)}
			}
		}
	}
	rp := s.run(c)
	if f != nil {
		switch f.Kind {
		case FaultDisconnect:
			rp.drop = true
		case FaultGarbled:
			rp.raw = []byte(garbleBytes)
		case FaultSlow:
			rp.wait += f.Delay
		}
	}
	if rp.wait > 0 && !isRead {
		s.busy = true
	}
	return rp
}

// run executes a command on the printer's state (s.mu held).
func (s *Sim) run(c *command) reply {
	moves := map[string]bool{"Si": true, "Sic": true, "Sis": true, "Sp": true, "Se": true, "Ser": true, "Seb": true, "St": true, "Stt": true, "Scp": true}
	if (c.name == "Db" || c.name == "Dbc") && s.card != nil {
		moves[c.name] = true // with a card in, a download prints
	}
	if moves[c.name] {
		if s.cover {
			return reply{text: "COVER OPEN"}
		}
		if s.jammed {
			return reply{text: "CARD JAM"}
		}
	}
	switch c.name {
	case "Pmi", "Pc", "Pl", "Ps", "Pdt", "Ppws", "Mr":
		// Settings and the ribbon motor the vendor's Windows driver sends
		// before Ss (test.windows captures); nothing here models them.
		return reply{text: "OK"}
	case "Pem", "Pr", "Poc", "Pos":
		if c.name == "Pr" {
			want := strings.ToLower(c.param(0))
			if want == "" {
				return reply{text: "ERROR PARAMETRES"}
			}
			if want != s.cfg.Ribbon && !(want == "k" && s.cfg.Ribbon == "kb") {
				return reply{text: "ERROR RIBBON TYPE"}
			}
			// Taken at the next Ss: a Pr inside a sequence does not
			// change the card in progress.
			s.ribbon = want
		}
		return reply{text: "OK"}
	case "Ss":
		s.seqRib = s.ribbon
		s.inSeq = true
		return reply{text: "OK"}
	case "Si":
		if s.card != nil {
			return s.moveTo("print", moveTime)
		}
		if s.st.Feeder <= 0 {
			return reply{text: "FEEDER EMPTY"}
		}
		s.takeBlank("print")
		return reply{text: "OK", wait: s.pace(feedTime)}
	case "Sic", "Sis":
		wait := time.Duration(0)
		if s.card == nil {
			if s.st.Feeder <= 0 {
				return reply{text: "FEEDER EMPTY"}
			}
			s.takeBlank("print")
			wait = s.pace(feedTime)
		}
		to := "contactless"
		if c.name == "Sis" {
			to = "contact"
		}
		rp := s.moveTo(to, moveTime)
		rp.wait += wait
		return rp
	case "Sr", "Sv":
		// Only chooses the side downloads go to (guide page 43); a panel
		// still waiting from the other side prints first.
		side := 0
		if c.name == "Sv" {
			side = 1
		}
		if s.card == nil {
			s.side = side
			return reply{text: "OK"}
		}
		rp := reply{text: "OK"}
		if s.card.queued != nil && s.card.qside != side {
			rp = s.printQueued()
		}
		s.card.side = side
		return rp
	case "Db", "Dbc":
		side := s.side
		if s.card != nil {
			side = s.card.side
		}
		if !strings.ContainsRune(s.seqRib, rune(c.panel.Name)) && !(c.panel.Name == 'k' && strings.HasPrefix(s.seqRib, "k")) {
			return reply{text: "ERROR RIBBON TYPE"}
		}
		pend := &s.pending[side]
		if s.card != nil {
			pend = &s.card.pending[side]
		}
		if *pend == nil {
			*pend = map[byte]*raster.Panel{}
		}
		rp := reply{text: "OK"}
		if s.card == nil && s.inSeq {
			// Inside a sequence a download takes a blank itself: the
			// guide's example (§21) and the vendor's capture have no Si.
			if s.st.Feeder <= 0 {
				return reply{text: "FEEDER EMPTY"}
			}
			s.takeBlank("print")
			s.card.side = side
			rp.wait = s.pace(feedTime)
			pend = &s.card.pending[side]
			if *pend == nil {
				*pend = map[byte]*raster.Panel{}
			}
		}
		if s.card != nil {
			if !s.card.anyPrint[side] && s.card.queued == nil && s.noRibbon() {
				return reply{text: "ERROR RIBBON"}
			}
			if s.card.pos != "print" {
				rp = s.leave()
				s.card.pos = "print"
				rp.text, rp.wait = "OK", s.pace(moveTime)
			}
			if s.card.queued != nil {
				pr := s.printQueued()
				if pr.text != "OK" {
					return pr
				}
				rp.wait += pr.wait
			}
			s.card.queued, s.card.qside = c.panel, side
		}
		(*pend)[c.panel.Name] = c.panel
		return rp
	case "Sp":
		return s.printPanel(c.param(0))
	case "Se":
		if s.card == nil {
			s.inSeq = false
			return reply{text: "OK"}
		}
		var pw time.Duration
		if s.card.queued != nil {
			pr := s.printQueued()
			if pr.text != "OK" {
				return pr
			}
			pw = pr.wait
		}
		rp := s.leave()
		s.finish("card_out")
		rp.text, rp.wait = "OK", pw+s.pace(ejectTime)
		return rp
	case "Ser", "Seb":
		if s.card == nil {
			return reply{text: "OK"}
		}
		if s.st.RejectCount >= s.cfg.RejectCapacity {
			return reply{text: "REJECT BOX FULL"}
		}
		rp := s.leave()
		s.st.RejectCount++
		s.finish("card_rejected")
		rp.text, rp.wait = "OK", s.pace(ejectTime)
		return rp
	case "Rfv":
		return reply{text: s.cfg.Firmware}
	case "Rsn":
		return reply{text: s.cfg.Serial}
	case "Rtp":
		return reply{text: s.cfg.Model}
	case "Rkn":
		return reply{text: "KIT-SIM-300"}
	case "Rck":
		return reply{text: "5A3C"}
	case "Rr":
		return reply{text: s.cfg.Ribbon}
	case "Rco":
		var v int64
		switch c.param(0) {
		case "c":
			v = s.st.CardsInserted
		case "p":
			v = s.st.PanelsPrinted
		case "n":
			v = s.st.Cleanings
		case "a", "m":
			v = 1000
		case "l", "I":
			v = int64(s.st.RibbonLeft)
		default:
			return reply{text: "ERROR PARAMETRES"}
		}
		return reply{text: strconv.FormatInt(v, 10)}
	case "Rcr":
		if s.noRibbon() {
			return reply{text: "ERROR RIBBON"}
		}
		return reply{text: "OK"}
	case "Rlr":
		switch c.param(0) {
		case "p":
			if s.card == nil {
				return reply{text: "OK"} // as QEvolisPrinter records it; the guide says NO CARD
			}
			switch s.card.pos {
			case "contactless":
				return reply{text: "CONTACTLESS CARD"}
			case "contact":
				return reply{text: "SMART CARD"}
			}
			return reply{text: "CARD"}
		case "r":
			return reply{text: "OK"}
		}
		return reply{text: "ERROR PARAMETRES"}
	case "Rse":
		// "5,00 Volts" / "0,00 Volts", as integrators record real
		// printers' replies (QEvolisPrinter).
		volts := func(high bool) string {
			if high {
				return "5,00 Volts"
			}
			return "0,00 Volts"
		}
		switch c.param(0) {
		case "o":
			return reply{text: volts(!s.cover)}
		case "f":
			return reply{text: volts(s.st.Feeder > 0)}
		case "m":
			return reply{text: "0,20 Volts"}
		case "p":
			return reply{text: volts(s.card != nil)}
		case "c":
			return reply{text: "2,51 Volts"}
		case "r":
			return reply{text: "1,20 Volts"}
		}
		return reply{text: "ERROR PARAMETRES"}
	case "Scp":
		// The cleaning cycle "checks if there is no ribbon in printer",
		// then takes the cleaning card in (guide Scp page 41): a card
		// inside, or a ribbon in, and it does not run. The reply words are
		// ours (not verified); the driver reports any of them as the
		// printer's own.
		if s.card != nil {
			return reply{text: "ERR CARD"}
		}
		if !s.st.RibbonRemoved {
			return reply{text: "ERROR RIBBON PRESENT"}
		}
		s.st.Cleanings++
		s.saveLocked()
		return reply{text: "OK", wait: s.pace(cleanTime)}
	case "St", "Stt":
		if s.card != nil {
			return reply{text: "ERR CARD"}
		}
		if s.st.Feeder <= 0 {
			return reply{text: "FEEDER EMPTY"}
		}
		if s.noRibbon() {
			return reply{text: "ERROR RIBBON"}
		}
		s.takeBlank("print")
		s.st.PanelsPrinted += 5
		if s.st.RibbonLeft > 0 {
			s.st.RibbonLeft--
		}
		s.record("printed", "front")
		s.finish("card_out")
		return reply{text: "OK", wait: s.pace(testTime)}
	case "Sa":
		// Self-adjustment positions a card of its own first (guide Sa page
		// 40, "Card Positioning"): not with a card inside (our model).
		if s.card != nil {
			return reply{text: "ERR CARD"}
		}
		return reply{text: "OK", wait: s.pace(adjustTime)}
	case "Srs":
		s.inSeq = false
		s.cover = false
		if s.jammed && s.card != nil {
			s.finish("card_removed")
		}
		s.jammed = false
		s.pending = [2]map[byte]*raster.Panel{}
		s.saveLocked()
		return reply{text: "OK", wait: s.pace(adjustTime)}
	}
	return reply{text: "ERROR CDE"}
}

// noRibbon: the ribbon ran out or was taken out (s.mu held).
func (s *Sim) noRibbon() bool { return s.st.RibbonLeft <= 0 || s.st.RibbonRemoved }

// takeBlank takes a card from the feeder (s.mu held).
func (s *Sim) takeBlank(pos string) {
	s.st.Feeder--
	s.st.CardsInserted++
	s.st.LastCard++
	s.card = &card{n: s.st.LastCard, pos: pos, side: s.side, pending: s.pending}
	for side, m := range s.card.pending {
		if len(m) > 0 && s.card.queued == nil {
			// Downloaded before the card came in: the most recent one
			// waits to print. (Map order: only one panel is expected.)
			for _, p := range m {
				s.card.queued, s.card.qside = p, side
			}
		}
	}
	s.pending = [2]map[byte]*raster.Panel{}
	s.side = 0
	s.saveLocked()
	s.record("blank_taken", "")
}

// moveTo moves the card inside the printer (s.mu held).
func (s *Sim) moveTo(pos string, d time.Duration) reply {
	rp := s.leave()
	if s.card.pos == pos {
		return reply{text: "OK"}
	}
	s.card.pos = pos
	s.saveLocked()
	rp.text, rp.wait = "OK", s.pace(d)
	if pos == "contactless" {
		s.record("at_contactless", "")
		rp.station = &StationEvent{Card: s.card.n, Arrived: true}
	}
	return rp
}

// leave notes a card leaving the contactless station.
func (s *Sim) leave() reply {
	if s.card != nil && s.card.pos == "contactless" {
		s.card.pos = "between"
		return reply{station: &StationEvent{Card: s.card.n, Arrived: false}}
	}
	return reply{}
}

// printPanel runs Sp;name: it prints a downloaded panel now. The guide
// defines it (page 43), but a download also prints the panel before it, so
// a host that sends Sp after every download prints each panel twice.
func (s *Sim) printPanel(name string) reply {
	if s.card == nil {
		return reply{text: "ERR NO CARD"}
	}
	if len(name) != 1 || !validPanel(name[0]) {
		return reply{text: "ERROR PARAMETRES"}
	}
	side := s.card.side
	p := s.card.pending[side][name[0]]
	if p == nil {
		return reply{text: "ERROR PARAMETRES"}
	}
	rp := reply{}
	if s.card.pos != "print" {
		rp = s.leave()
		s.card.pos = "print"
		rp.wait = s.pace(moveTime)
	}
	pr := s.printOne(side, p)
	if pr.text != "OK" {
		return pr
	}
	rp.text = "OK"
	rp.wait += pr.wait
	return rp
}

// printQueued prints the panel waiting since the last download.
func (s *Sim) printQueued() reply {
	p, side := s.card.queued, s.card.qside
	s.card.queued = nil
	return s.printOne(side, p)
}

// printOne puts one panel on the card (s.mu held).
func (s *Sim) printOne(side int, p *raster.Panel) reply {
	if !s.card.anyPrint[side] && s.noRibbon() {
		return reply{text: "ERROR RIBBON"}
	}
	if !s.card.anyPrint[side] {
		s.card.anyPrint[side] = true
		s.st.RibbonLeft--
		s.record("printed", []string{"front", "back"}[side])
	}
	if s.card.prints[side] == nil {
		s.card.prints[side] = map[byte]int{}
	}
	s.card.prints[side][p.Name]++
	if s.card.prints[side][p.Name] > 1 {
		s.st.Misprints++
		s.record("misprint", []string{"front", "back"}[side])
		s.cfg.Log.Warn().Int("card", s.card.n).Str("panel", string(p.Name)).Msg("printer sim: panel printed twice")
	}
	if s.card.printed[side] == nil {
		s.card.printed[side] = &raster.Panels{}
	}
	ps := s.card.printed[side]
	switch p.Name {
	case 'y':
		ps.Y = p
	case 'm':
		ps.M = p
	case 'c':
		ps.C = p
	case 'k':
		ps.K = p
	case 'o':
		ps.O = p
	}
	s.st.PanelsPrinted++
	s.saveLocked()
	return reply{text: "OK", wait: s.pace(panelTime)}
}

// finish ends the card's life in the printer: PNGs, journal, state.
func (s *Sim) finish(event string) {
	for side, ps := range s.card.printed {
		if ps == nil || s.cfg.OutDir == "" {
			continue
		}
		name := fmt.Sprintf("card-%06d-%s.png", s.card.n, []string{"front", "back"}[side])
		if err := writePNG(filepath.Join(s.cfg.OutDir, name), ps); err != nil {
			s.cfg.Log.Error().Err(err).Msg("printer sim: card image")
		}
	}
	s.record(event, "")
	s.card = nil
	s.inSeq = false
	s.saveLocked()
}

func writePNG(path string, ps *raster.Panels) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, CardImage(ps)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// record appends a journal event and syncs it (s.mu held).
func (s *Sim) record(event, side string) {
	s.st.JournalSeq++
	n := 0 // a hand action with no card inside (the ribbon taken out)
	if s.card != nil {
		n = s.card.n
	}
	ev := Event{Seq: s.st.JournalSeq, Card: n, Event: event, Counter: s.st.CardsInserted, Side: side, Time: s.cfg.Now().UTC()}
	s.events = append(s.events, ev)
	s.cfg.Log.Info().Int("card", ev.Card).Str("event", event).Int64("counter", ev.Counter).Msg("printer sim")
	if s.journal == nil {
		return
	}
	b, _ := json.Marshal(ev)
	b = append(b, '\n')
	if _, err := s.journal.Write(b); err != nil {
		s.cfg.Log.Error().Err(err).Msg("printer sim: journal write")
		return
	}
	if err := s.journal.Sync(); err != nil {
		s.cfg.Log.Error().Err(err).Msg("printer sim: journal sync")
	}
	s.saveLocked()
}

// saveLocked writes state.json atomically (s.mu held or during Open).
func (s *Sim) saveLocked() error {
	s.st.Inside = nil
	if s.card != nil {
		s.st.Inside = &Inside{Card: s.card.n, Position: s.card.pos, Jammed: s.jammed}
	}
	if s.cfg.OutDir == "" {
		return nil
	}
	b, _ := json.MarshalIndent(s.st, "", "  ")
	path := filepath.Join(s.cfg.OutDir, "state.json")
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("printer simulator: save state: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		s.cfg.Log.Error().Err(err).Msg("printer sim: save state")
		return fmt.Errorf("printer simulator: save state: %w", err)
	}
	return nil
}
