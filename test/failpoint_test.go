package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"printstation/internal/failpoint"
	"printstation/inventory"
)

// TestCrashPoints stops a card at every named failpoint of the card machine,
// once by killing the daemon there (SIGKILL, as a power cut) and once by
// cutting the printer's link there (printersim killed while the daemon goes
// on, then started again, as a pulled cable). After each, a person does what
// the station asks (spoils uncertain cards, takes out a card it says is
// inside, resumes), the batch finishes, and the printer's journal, the
// ledger and the jobs must agree: every blank the printer took is consumed
// or spoiled in the ledger, no job has two cards.
func TestCrashPoints(t *testing.T) {
	requirePcscd(t)
	kinds := []string{"kill-daemon", "cut-link"}
	cases := len(failpoint.All) * len(kinds)
	s := newE2E(t, e2eOpts{jobs: 2 * cases, batch: 2, printers: 1, vicc: true, speed: "0"})
	s.startDaemon()
	s.stock(150)
	waitFor(t, 120*time.Second, func() bool {
		total := 0
		for _, b := range s.status().Batches {
			total += b.Total
		}
		return total >= 2*cases
	}, "the jobs synced from centralsim")
	var batches []string
	for _, b := range s.status().Batches {
		batches = append(batches, b.ID)
	}
	s.stopDaemon()

	// The crash table (docs/CRASH.md): blanks spoiled in each case — by a
	// person after a kill that left a fed card uncertain, or by the station
	// for a card inside after a cut link. A card counted before the crash
	// (its record committed, alone or with the next intent) or a blank
	// never fed costs nothing.
	wantSpoiled := map[string]int{
		"after-intent/kill-daemon": 0, "after-intent/cut-link": 0,
		"after-feed/kill-daemon": 1, "after-feed/cut-link": 1,
		"at-encoder/kill-daemon": 1, "at-encoder/cut-link": 1,
		"after-chip-verify/kill-daemon": 1, "after-chip-verify/cut-link": 1,
		"after-print/kill-daemon": 1, "after-print/cut-link": 1,
		"after-eject/kill-daemon": 1, "after-eject/cut-link": 0,
		"before-chain-commit/kill-daemon": 1, "before-chain-commit/cut-link": 0,
		"after-chain-commit/kill-daemon": 0, "after-chain-commit/cut-link": 0,
		"before-commit/kill-daemon": 1, "before-commit/cut-link": 0,
		"after-commit/kill-daemon": 0, "after-commit/cut-link": 0,
	}
	p := s.printers[0]
	hold := t.TempDir()
	printed := 0
	var figures []string
	i := 0
	for _, point := range failpoint.All {
		for _, kind := range kinds {
			batch := batches[i]
			i++
			name := point + "/" + kind
			before := s.blankCounts(p)
			env := failpoint.EnvVar + "=" + point + "=kill"
			if kind == "cut-link" {
				env = failpoint.EnvVar + "=" + point + "=hold:" + hold
			}
			s.daemon = startDaemon(t, s.cfg, env)
			s.waitAnswering()
			s.ctl("batch", "start", batch)
			switch kind {
			case "kill-daemon":
				select {
				case <-s.daemon.done:
				case <-time.After(90 * time.Second):
					t.Fatalf("%s: the daemon did not reach the failpoint; its log:\n%s", name, s.daemon.stderr.String())
				}
				s.daemon = startDaemon(t, s.cfg)
				s.waitAnswering()
			case "cut-link":
				hit := filepath.Join(hold, point+".hit")
				waitFor(t, 90*time.Second, func() bool { _, err := os.Stat(hit); return err == nil }, name+": the failpoint")
				p.cmd.Process.Kill()
				<-p.done
				os.WriteFile(filepath.Join(hold, point+".go"), nil, 0o644)
				// The daemon finds the printer gone (or, past the last
				// printer step, the next card does).
				waitFor(t, 60*time.Second, func() bool {
					st := s.status()
					return len(st.Printers) > 0 && st.Printers[0].State == "offline"
				}, name+": the printer shown offline")
				s.startPrinter(p)
			}
			s.settleBatch(name, batch)
			s.stopDaemon()
			printed += 2
			s.checkAgreement(printed)
			after := s.blankCounts(p)
			figures = append(figures, fmt.Sprintf("%-31s taken %d  consumed %d  spoiled %d (crash/link %d)", name,
				after.taken-before.taken, after.consumed-before.consumed, after.spoiled-before.spoiled, after.crash-before.crash))
			if want, ok := wantSpoiled[name]; !ok {
				t.Errorf("%s: not in the crash table of this test", name)
			} else if got := after.spoiled - before.spoiled; got != want {
				t.Errorf("%s: %d blank(s) spoiled, the crash table says %d", name, got, want)
			}
			if t.Failed() {
				t.Fatalf("after %s:\n%s", name, strings.Join(figures, "\n"))
			}
		}
	}
	t.Logf("%d failpoints × %d fault kinds; blanks per case (journal vs ledger):\n%s", len(failpoint.All), len(kinds), strings.Join(figures, "\n"))

	// While the daemon runs, a technician reaches its printer only through
	// it: a direct print is refused, a test card goes through the daemon
	// and is in the ledger (checkAgreement counts it against the journal).
	s.daemon = startDaemon(t, s.cfg)
	s.waitAnswering()
	out, code := ctl(t, s.sock, "diag", "printer", "--printer", "tcp://"+p.addr, "print", filepath.Join(s.dir, "front.png"))
	if code == 0 || !strings.Contains(out, "never driven behind its back") {
		t.Errorf("direct diag print while the daemon runs: exit %d\n%s", code, out)
	}
	// A test card is the technician's (printer.diag).
	if out, code := ctlIn(t, s.sock, secretOf("tek")+"\n"+secretOf("tek")+"\n", "user", "add", "--role", "technician", "tek"); code != 0 && !strings.Contains(out, "exists") {
		t.Fatalf("user add tek (exit %d):\n%s", code, out)
	}
	if out, code := s.ctlAs("tek", "", "diag", "printer", "--printer", p.name, "test-card"); code != 0 {
		t.Fatalf("test card through the daemon as a technician: exit %d\n%s", code, out)
	}
	if out, code := s.ctlAs("tester", "", "diag", "printer", "--printer", p.name, "test-card"); code == 0 || !strings.Contains(out, "technician") {
		t.Errorf("a test card by an operator/supervisor: exit %d\n%s", code, out)
	}
	s.stopDaemon()
	s.checkAgreement(printed)
	var tests int
	for _, r := range s.ledger() {
		if r.Kind == inventory.Spoiled && r.Reason == inventory.ReasonTest {
			tests++
		}
	}
	if tests != 1 {
		t.Errorf("%d test cards in the ledger, want the one run through the daemon", tests)
	}
}

type blankCount struct{ taken, consumed, spoiled, crash int }

// blankCounts reads what a printer's journal says it took and what the
// ledger counts for it.
func (s *e2e) blankCounts(p *simProc) blankCount {
	var c blankCount
	for _, e := range s.journal(p) {
		if e["event"] == "blank_taken" {
			c.taken++
		}
	}
	for _, r := range s.ledger() {
		if r.Printer != p.name {
			continue
		}
		switch r.Kind {
		case inventory.Consumed:
			c.consumed++
		case inventory.Spoiled:
			c.spoiled++
			if r.Reason == inventory.ReasonCrashUnconfirmed {
				c.crash++
			}
		}
	}
	return c
}

func (s *e2e) stopDaemon() {
	s.daemon.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.daemon.done:
	case <-time.After(60 * time.Second):
		s.t.Fatalf("the daemon did not stop; its log:\n%s", s.daemon.stderr.String())
	}
}

// hand does one of the operator's hand actions at a printer simulator.
func (s *e2e) hand(p *simProc, path string) string {
	resp, err := http.Post("http://"+p.admin+path, "", nil)
	if err != nil {
		s.t.Fatalf("printersim admin %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return string(b)
}

// settleBatch is the person at the station until the batch is printed:
// uncertain cards are spoiled, a card the station says is inside is taken
// out, a stopped printer is resumed, a job put aside is retried.
func (s *e2e) settleBatch(name, batch string) {
	t := s.t
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st := s.status()
		for _, b := range st.Batches {
			if b.ID == batch && b.Printed == b.Total {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: batch %s did not finish: %+v\nattention: %s\ndaemon log:\n%s", name, batch, st, s.ctl("attention", "list"), tail(s.daemon.stderr.String(), 4000))
		}
		var as []struct{ Job, State string }
		if err := json.Unmarshal([]byte(s.ctl("--json", "attention", "list")), &as); err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			switch a.State {
			case "uncertain":
				s.ctlAs("tester", "", "attention", "spoil", a.Job, "--reason", "settled after the fault")
			default:
				s.ctlAs("tester", "", "attention", "retry", a.Job)
			}
		}
		for i, ps := range st.Printers {
			if ps.State != "attention" && ps.State != "paused" {
				continue
			}
			if strings.Contains(ps.Message, "card inside") && !strings.Contains(ps.Message, "uncertain card of job") {
				p := s.printers[i]
				s.hand(p, "/cover/open")
				s.hand(p, "/take")
				s.hand(p, "/cover/close")
			}
			s.ctlAs("tester", "", "printer", "resume", ps.Name)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
