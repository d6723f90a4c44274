package diagcmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"printstation/printer/session"
	simprinter "printstation/sim/printer"
)

// probe reads everything read-only and reports raw replies next to what
// the driver makes of them; nothing moves.
func TestProbe(t *testing.T) {
	sim, addr := startSim(t, simprinter.Config{Feeder: 4})
	code, out, errs := run(t, "--printer", addr, "probe")
	if code != 0 {
		t.Fatalf("probe: exit %d: %s", code, errs)
	}
	line := func(prefix string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, prefix+" ") {
				return strings.Join(strings.Fields(l), " ")
			}
		}
		return ""
	}
	for cmd, want := range map[string]string{
		"Rse;f": `Rse;f "5,00 Volts"`, "Rlr;p": `Rlr;p "OK"`, "Rco;c": `Rco;c "0"`,
		"Rem": `Rem "ERROR CDE" command refused`, "serial": "serial number SIM0001",
		"sensor input": "sensor input feeder (f) 5.00 V cards present",
	} {
		if got := line(cmd); got != want {
			t.Errorf("probe line %q, want %q:\n%s", got, want, out)
		}
	}
	if sn := sim.Snapshot(); sn.CardsInserted != 0 || sn.Card != 0 {
		t.Errorf("probe moved a card: %+v", sn)
	}
}

// A session recorded with --record replays with --replay: same exit, same
// output, and every host byte as recorded.
func TestRecordAndReplay(t *testing.T) {
	_, addr := startSim(t, simprinter.Config{Feeder: 4, ReplyEnd: "\x00"})
	file := filepath.Join(t.TempDir(), "session.jsonl")
	code, out, errs := run(t, "--printer", addr, "--record", file, "status")
	if code != 0 || !strings.Contains(errs, "session recorded") {
		t.Fatalf("record: exit %d: %s", code, errs)
	}
	code2, out2, errs2 := run(t, "--printer", addr, "--replay", file, "status")
	if code2 != 0 || out2 != out {
		t.Fatalf("replay: exit %d, %s\n%s\nwant\n%s", code2, errs2, out2, out)
	}
	// The recording does not answer another command.
	if code, _, errs := run(t, "--printer", addr, "--replay", file, "counters"); code == 0 || !strings.Contains(errs, "departs from the recording") {
		t.Errorf("counters from a status recording: exit %d, %s", code, errs)
	}
}

// Every session in testdata/sessions is a regression test: the driver of
// today, run with the recorded arguments against the recorded printer,
// must say exactly what it said then and send exactly the same bytes. A
// technician's --record file dropped there needs no code.
func TestRecordedSessions(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "sessions", "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no sessions in testdata/sessions")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			s, err := session.ReadSession(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			if s.End == nil {
				t.Fatalf("the recording was cut short (no end line)")
			}
			args := append([]string{"--replay", f}, s.Meta.Args...)
			code, out, errs := run(t, args...)
			if code != s.End.Exit {
				t.Errorf("exit %d, recorded %d: %s", code, s.End.Exit, errs)
			}
			if out != s.End.Output {
				t.Errorf("output differs from the recording:\n%s\nrecorded:\n%s", out, s.End.Output)
			}
		})
	}
}

// set-ribbon tells the printer its ribbon: the printer's memory (Rr) then
// names it.
func TestSetRibbon(t *testing.T) {
	_, addr := startSim(t, simprinter.Config{Ribbon: "ko"})
	if code, _, errs := run(t, "--printer", addr, "set-ribbon", "ymcko"); code != 1 || !strings.Contains(errs, "wrong ribbon") {
		t.Errorf("set-ribbon to a ribbon that is not in: exit %d, %s", code, errs)
	}
	if code, out, errs := run(t, "--printer", addr, "set-ribbon", "ko"); code != 0 || !strings.Contains(out, "ribbon set to ko") {
		t.Errorf("set-ribbon ko: exit %d, %s %s", code, out, errs)
	}
	if code, _, _ := run(t, "--printer", addr, "set-ribbon"); code != 2 {
		t.Errorf("set-ribbon without a ribbon: exit %d, want 2", code)
	}
}
