package simprinter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/rs/zerolog"
	"time"
)

// client sends raw commands and reads CR-terminated replies.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialPipe(t *testing.T, s *Sim) *client {
	c := s.Pipe()
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) do(cmd string) string {
	c.t.Helper()
	if _, err := c.c.Write([]byte("\x1b" + cmd + "\r")); err != nil {
		c.t.Fatalf("%s: %v", cmd, err)
	}
	line, err := c.r.ReadString('\r')
	if err != nil {
		c.t.Fatalf("%s: %v", cmd, err)
	}
	return strings.TrimSuffix(line, "\r")
}

func TestParseFault(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Fault
		err  string
	}{
		{in: "3:print:jam", want: Fault{Card: 3, Phase: PhasePrint, Kind: FaultJam, Delay: 10 * time.Second}},
		{in: "*:feed:busy", want: Fault{Phase: PhaseFeed, Kind: FaultBusy, Delay: 10 * time.Second}},
		{in: "2:eject:slow:5s", want: Fault{Card: 2, Phase: PhaseEject, Kind: FaultSlow, Delay: 5 * time.Second}},
		{in: "4:contactless:disconnect:after", want: Fault{Card: 4, Phase: PhaseContactless, Kind: FaultDisconnect, After: true, Delay: 10 * time.Second}},
		{in: "1:print:garbled", want: Fault{Card: 1, Phase: PhasePrint, Kind: FaultGarbled, After: true, Delay: 10 * time.Second}},
		{in: "0:print:jam", err: "card"},
		{in: "1:laminate:jam", err: "phase"},
		{in: "1:print:fire", err: "kind"},
		{in: "1:print:jam:5s", err: "does not apply"},
		{in: "1:print", err: "CARD:PHASE:KIND"},
	} {
		got, err := ParseFault(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if again, _ := ParseFault(got.String()); again != got {
			t.Errorf("%q does not round-trip through String %q", tc.in, got.String())
		}
	}
	fs, err := ParseFaults(strings.NewReader("# script\n3:print:jam\n\n5:feed:busy # again\n"))
	if err != nil || len(fs) != 2 {
		t.Errorf("ParseFaults: %v, %v", fs, err)
	}
	if _, err := ParseFaults(strings.NewReader("3:print:jam\nnonsense\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: %v", err)
	}
}

func readJournal(t *testing.T, dir string) []Event {
	b, err := os.ReadFile(filepath.Join(dir, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Event
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("journal line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{OutDir: dir, Feeder: 10})
	if err != nil {
		t.Fatal(err)
	}
	c := dialPipe(t, s)
	for _, cmd := range []string{"Pem;2", "Ss", "Si", "Ser", "Ss", "Sic"} {
		if r := c.do(cmd); r != "OK" {
			t.Fatalf("%s: %s", cmd, r)
		}
	}
	// "crash": the sim goes away with card 2 at the contactless station
	s.Close()

	s2, err := Open(Config{OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	c2 := dialPipe(t, s2)
	if got := c2.do("Rco;c"); got != "2" {
		t.Errorf("cards inserted after restart = %s, want 2", got)
	}
	sn := s2.Snapshot()
	if sn.Feeder != 8 || sn.RejectCount != 1 || sn.LastCard != 2 {
		t.Errorf("state after restart %+v", sn.State)
	}
	// card 2 is still inside, back at the print position after power-up
	if sn.Card != 2 || sn.Position != "print" || c2.do("Rlr;p") != "CARD" {
		t.Errorf("card inside after restart: %d at %q", sn.Card, sn.Position)
	}
	for _, cmd := range []string{"Si", "Ser", "Si"} { // Si with a card inside takes no blank
		if r := c2.do(cmd); r != "OK" {
			t.Fatalf("%s: %s", cmd, r)
		}
	}
	evs := readJournal(t, dir)
	var got []string
	for _, e := range evs {
		got = append(got, e.Event)
	}
	if strings.Join(got, " ") != "blank_taken card_rejected blank_taken at_contactless card_rejected blank_taken" {
		t.Errorf("journal %v", got)
	}
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Errorf("journal seq %d at line %d", e.Seq, i+1)
		}
	}
	if last := evs[len(evs)-1]; last.Card != 3 || last.Counter != 3 {
		t.Errorf("last event %+v, want card 3 counter 3", last)
	}
}

func TestDamagedStateRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "state.json"), []byte("{not json"), 0o644)
	if _, err := Open(Config{OutDir: dir}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Open: %v", err)
	}
	s := New(Config{OutDir: dir})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := s.Serve(l); err == nil {
		t.Errorf("Serve with a damaged state did not refuse")
	}
	c := s.Pipe()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("Pipe with a damaged state answers")
	}
}

// The PNG shows the card as it comes out: line n is column n from the
// left edge, point 0 is the bottom edge (the vendor's own driver stream,
// dpavlin/Printer-EVOLIS test.windows/). A host that puts the top edge at
// point 0 gets a card mirrored top to bottom.
func TestPrintedCardImage(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(Config{OutDir: dir, Ribbon: "k"})
	defer s.Close()
	c := dialPipe(t, s)
	for _, cmd := range []string{"Pr;k", "Ss", "Si", "Sr"} {
		if r := c.do(cmd); r != "OK" {
			t.Fatalf("%s: %s", cmd, r)
		}
	}
	// K panel: line 5 all black; line 9 only its first byte (points 0–7).
	data := make([]byte, 0, 1100)
	for n := 0; n < 1016; n++ {
		switch n {
		case 5:
			data = append(data, 255)
		case 9:
			data = append(data, 1, 0xff)
		default:
			data = append(data, 0)
		}
	}
	c.c.Write([]byte("\x1bDbc;k;2;" + strconv.Itoa(len(data)) + ";"))
	c.c.Write(append(data, '\r'))
	if r, _ := c.r.ReadString('\r'); r != "OK\r" {
		t.Fatalf("Dbc: %q", r)
	}
	if r := c.do("Se"); r != "OK" {
		t.Fatalf("Se: %s", r)
	}
	f, err := os.Open(filepath.Join(dir, "card-000001-front.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1016 || b.Dy() != 648 {
		t.Fatalf("card image %v", b)
	}
	black := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r == 0 }
	// line 5 is image column 5, all the way down
	for _, y := range []int{0, 300, 647} {
		if !black(5, y) {
			t.Errorf("column 5 row %d not black", y)
		}
		if black(6, y) {
			t.Errorf("column 6 row %d black", y)
		}
	}
	// points 0–7 of line 9 are the bottom 8 rows of column 9
	if !black(9, 647) || !black(9, 640) || black(9, 639) || black(9, 0) {
		t.Errorf("points 0–7 of line 9 not at the card's bottom edge (rows 640–647)")
	}
	if sn := s.Snapshot(); sn.Misprints != 0 || sn.PanelsPrinted != 1 {
		t.Errorf("panels printed %d, misprints %d", sn.PanelsPrinted, sn.Misprints)
	}
}

// A download prints the panel downloaded before it (guide §21): a host that
// also sends Sp after each download prints every panel but the last twice.
func TestSpAfterDownloadPrintsTwice(t *testing.T) {
	s, _ := Open(Config{})
	defer s.Close()
	c := dialPipe(t, s)
	for _, cmd := range []string{"Pr;ymcko", "Ss", "Si", "Sr"} {
		c.do(cmd)
	}
	empty := "\x1bDbc;%c;2;1016;" + strings.Repeat("\x00", 1016) + "\r"
	for _, p := range []byte{'k', 'o'} {
		c.c.Write([]byte(fmt.Sprintf(empty, p)))
		if r, _ := c.r.ReadString('\r'); r != "OK\r" {
			t.Fatalf("Dbc %c: %q", p, r)
		}
		if r := c.do("Sp;" + string(p)); r != "OK" {
			t.Fatalf("Sp: %s", r)
		}
	}
	c.do("Se")
	sn := s.Snapshot()
	if sn.Misprints != 2 {
		t.Errorf("misprints %d, want 2 (k by Sp then by the o download, o by Sp then by Se)", sn.Misprints)
	}
	var mis int
	for _, ev := range s.Events() {
		if ev.Event == "misprint" {
			mis++
		}
	}
	if mis != 2 {
		t.Errorf("journal has %d misprint events, want 2", mis)
	}
}

// The ribbon is taken at Ss: a Pr inside the sequence does not change the
// card in progress, so a panel its ribbon lacks is refused.
func TestRibbonTakenAtSequenceStart(t *testing.T) {
	s, _ := Open(Config{Ribbon: "ko"})
	defer s.Close()
	c := dialPipe(t, s)
	if r := c.do("Pr;ymcko"); r != "ERROR RIBBON TYPE" {
		t.Errorf("Pr for a ribbon that is not in: %q", r)
	}
	for _, cmd := range []string{"Pr;ko", "Ss", "Si", "Sr"} {
		if r := c.do(cmd); r != "OK" {
			t.Fatalf("%s: %s", cmd, r)
		}
	}
	c.c.Write([]byte("\x1bDb;y;32;" + strings.Repeat("\x00", 1016*648*5/8) + "\r"))
	if r, _ := c.r.ReadString('\r'); r != "ERROR RIBBON TYPE\r" {
		t.Errorf("yellow panel on a ko ribbon: %q", r)
	}
	if r := c.do("Rse;o"); r != "5,00 Volts" {
		t.Errorf("cover sensor reply %q, want 5,00 Volts", r)
	}
	if r := c.do("Rse;f"); r != "5,00 Volts" {
		t.Errorf("feeder sensor reply %q, want 5,00 Volts", r)
	}
}

func TestBadCommands(t *testing.T) {
	s, _ := Open(Config{})
	defer s.Close()
	c := dialPipe(t, s)
	for cmd, want := range map[string]string{
		"Xyz":        "ERROR CDE",
		"Rco;q":      "ERROR PARAMETRES",
		"Db;q;32;":   "ERROR PARAMETRES",
		"Dbc;y;32;1": "ERROR PARAMETRES",
		"Dbc;y;2;1":  "ERROR PARAMETRES",
		"Sp;k":       "ERR NO CARD",
		"Pr;ymckoz":  "ERROR RIBBON TYPE",
		"Rfv":        "SIM-1.0",
	} {
		if got := c.do(cmd); got != want {
			t.Errorf("%q → %q, want %q", cmd, got, want)
		}
	}
}

// At speed 1 a feed takes the printer's two seconds; a second connection
// is told the printer is busy meanwhile but may read.
func TestTimingAndBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := Open(Config{Speed: 1})
		defer s.Close()
		a, b := dialPipe(t, s), dialPipe(t, s)
		start := time.Now()
		a.c.Write([]byte("\x1bSi\r"))
		synctest.Wait()
		if got := b.do("Ss"); got != "PRINTER BUSY" {
			t.Errorf("during the feed: %q", got)
		}
		if got := b.do("Rco;c"); got != "1" {
			t.Errorf("read during the feed: %q", got)
		}
		line, _ := a.r.ReadString('\r')
		if line != "OK\r" || time.Since(start) != 2*time.Second {
			t.Errorf("feed answered %q after %v, want OK after 2s", line, time.Since(start))
		}
		if got := b.do("Ss"); got != "OK" {
			t.Errorf("after the feed: %q", got)
		}
	})
}

func TestServeTCP(t *testing.T) {
	s, _ := Open(Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	if got := cl.do("Rsn"); got != "SIM0001" {
		t.Errorf("Rsn over TCP: %q", got)
	}
	s.Close()
	if err := <-done; err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
}

// FuzzCommands feeds arbitrary host bytes to the simulator's command
// reader: it must not panic, and must never accept a bitmap of the wrong
// size.
func FuzzCommands(f *testing.F) {
	f.Add([]byte("\x1bSs\r\x1bSi\r"))
	f.Add([]byte("\x1bDbc;k;2;1016;" + strings.Repeat("\x00", 1016) + "\r"))
	f.Add([]byte("\x1bDbc;k;2;1017;\x01\xff" + strings.Repeat("\x00", 1015) + "\r"))
	f.Add([]byte("\x1bDb;y;32;\x00\x01\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for i := 0; i < 50; i++ {
			c, err := readCommand(r)
			if err != nil && c == nil {
				return
			}
			if err == nil && c.panel != nil && len(c.panel.Data) != 1016*648*c.panel.Bits()/8 {
				t.Fatalf("panel of %d bytes accepted", len(c.panel.Data))
			}
		}
	})
}

// The cleaning cycle runs only with no card inside and the ribbon taken
// out (guide Scp page 41); the self-adjustment not with a card inside;
// with the ribbon out nothing prints, not even the test card.
func TestMaintenanceAsStrictAsAPrinter(t *testing.T) {
	s, _ := Open(Config{})
	defer s.Close()
	c := dialPipe(t, s)
	if r := c.do("Scp"); r != "ERROR RIBBON PRESENT" {
		t.Errorf("Scp with the ribbon in: %q", r)
	}
	if err := s.RemoveRibbon(); err != ErrCoverClosed {
		t.Errorf("ribbon taken out through a closed cover: %v", err)
	}
	s.OpenCover()
	if err := s.RemoveRibbon(); err != nil {
		t.Fatal(err)
	}
	s.CloseCover()
	if r := c.do("Rcr"); r != "ERROR RIBBON" {
		t.Errorf("Rcr with the ribbon out: %q", r)
	}
	if r := c.do("St"); r != "ERROR RIBBON" {
		t.Errorf("test card with the ribbon out: %q", r)
	}
	if r := c.do("Scp"); r != "OK" {
		t.Fatalf("Scp with the ribbon out: %q", r)
	}
	if r := c.do("Rco;n"); r != "1" {
		t.Errorf("cleanings after one cycle: %q", r)
	}
	s.OpenCover()
	s.InstallRibbon()
	s.CloseCover()
	if r := c.do("Si"); r != "OK" {
		t.Fatalf("Si: %q", r)
	}
	for _, cmd := range []string{"Scp", "Sa", "St"} {
		if r := c.do(cmd); r != "ERR CARD" {
			t.Errorf("%s with a card inside: %q", cmd, r)
		}
	}
	if r := c.do("Rco;n"); r != "1" {
		t.Errorf("cleanings after a refused cycle: %q", r)
	}
}

// slowLog is a log whose every write takes 300 ms: the simulator's own
// work on a command made slow.
type slowLog struct{}

func (slowLog) Write(p []byte) (int, error) {
	time.Sleep(300 * time.Millisecond)
	return len(p), nil
}

// The mechanical time runs from the moment the command is in: work the
// simulator does on it (here a journal line that takes 300 ms to log)
// happens while the motors run and does not lengthen the feed, as a
// printer's firmware does not wait for its host. Added to the mechanical
// time, the feed would answer after 2.3 s (tried).
func TestSimulatorWorkInsideMechanicalTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := Open(Config{Speed: 1, Log: zerolog.New(slowLog{})})
		defer s.Close()
		a := dialPipe(t, s)
		start := time.Now()
		if got := a.do("Si"); got != "OK" {
			t.Fatalf("feed: %q", got)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("feed answered after %v, want the printer's 2s", d)
		}
	})
}
