package session_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"printstation/printer"
	"printstation/printer/evolis"
	"printstation/printer/session"
	"printstation/printer/tcp"
	simprinter "printstation/sim/printer"
)

// A session recorded against a printer replays as that printer: the same
// driver calls get the same answers, and the player notices when the host
// sends anything else.
func TestRecordThenReplay(t *testing.T) {
	sim, err := simprinter.Open(simprinter.Config{Feeder: 3, ReplyEnd: "\x00"})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	var file bytes.Buffer
	rec, err := session.NewRecorder(&file, session.Meta{Driver: "evolis", Addr: "tcp://sim:9100", Args: []string{"status"}})
	if err != nil {
		t.Fatal(err)
	}
	dial := rec.Dialer(func(ctx context.Context) (printer.Conn, error) { return tcp.Wrap(sim.Pipe()), nil })
	ctx := context.Background()
	d, err := evolis.Open(ctx, "tcp://sim:9100", dial, printer.Options{Name: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	live, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := rec.Finish(session.End{Exit: 0}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(file.String(), `"text":"5,00 Volts\u0000"`) {
		t.Errorf("the file does not show the sensor reply as text:\n%.600s", file.String())
	}

	s, err := session.ReadSession(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if s.Meta.Driver != "evolis" || s.End == nil || len(s.Events) < 10 {
		t.Fatalf("session read back: %+v, %d events", s.Meta, len(s.Events))
	}
	pl := session.NewPlayer(s)
	d2, err := evolis.Open(ctx, "replay", pl.Dial, printer.Options{Name: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := d2.Status(ctx)
	if err != nil {
		t.Fatalf("status on replay: %v", err)
	}
	d2.Close()
	if err := pl.Done(); err != nil {
		t.Errorf("replay: %v", err)
	}
	if again.Ready != live.Ready || again.Card != live.Card || again.FeederEmpty != live.FeederEmpty {
		t.Errorf("replayed status %+v, live %+v", again, live)
	}

	// Another host conversation departs from the recording.
	pl = session.NewPlayer(s)
	d3, err := evolis.Open(ctx, "replay", pl.Dial, printer.Options{Name: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	defer d3.Close()
	if _, err := d3.Counters(ctx); err == nil {
		t.Errorf("counters answered from a status recording")
	}
	if err := pl.Done(); !errors.Is(err, session.ErrMismatch) || !strings.Contains(err.Error(), "Rco") {
		t.Errorf("departure not reported: %v", err)
	}
}

func TestReadSessionRefusesOtherFiles(t *testing.T) {
	for _, in := range []string{"", "not json\n", `{"event":{"op":"w"}}` + "\n", `{"meta":{"version":99}}` + "\n", `{"meta":{"version":1}}` + "\n" + `{"event":{"op":"fly"}}` + "\n"} {
		if _, err := session.ReadSession(strings.NewReader(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
