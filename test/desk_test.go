package test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"printstation/inventory"
	"printstation/printer/ipp/ipptest"
	"printstation/sim/chip/vicc"
)

// deskOperator plays the person at a desk printer against the real daemon:
// it reads the step from `printstationctl --json status` and puts virtual
// cards on the desk reader (vicc on the real pcscd) as asked.
type deskOperator struct {
	s      *e2e
	port   int
	dir    string
	card   *vicc.Card
	uid    string
	n      int
	placed []string          // every blank put on the reader
	dumps  map[string]string // UID → the chip as it last left the reader
	tapped string
}

type deskStatus struct {
	Printers []struct {
		Name string
		Desk *struct{ Step, Job, Message string }
	}
}

func (o *deskOperator) step() (step, job, msg string) {
	out, code := ctl(o.s.t, o.s.sock, "--json", "status")
	if code != 0 {
		return "", "", ""
	}
	var st deskStatus
	json.Unmarshal([]byte(out), &st)
	for _, p := range st.Printers {
		if p.Name == "d1" && p.Desk != nil {
			return p.Desk.Step, p.Desk.Job, p.Desk.Message
		}
	}
	return "", "", ""
}

func (o *deskOperator) insert(uid, restore string) {
	o.n++
	dump := filepath.Join(o.dir, fmt.Sprintf("tap-%03d.json", o.n))
	raw, _ := hex.DecodeString(uid)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := vicc.Start(ctx, vicc.Options{Port: o.port, UID: raw, DumpPath: dump, Restore: restore,
		Applications: [][]byte{{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}}})
	if err != nil {
		o.s.t.Fatalf("putting card %s on the desk reader: %v", uid, err)
	}
	o.card, o.uid = c, uid
	o.dumps[uid] = dump
}

func (o *deskOperator) remove() {
	if o.card != nil {
		o.card.Remove()
		o.card = nil
	}
}

// act does what the step asks, once.
func (o *deskOperator) act(step, job, msg string) {
	switch step {
	case "place_blank":
		o.tapped = ""
		if o.card == nil {
			uid := fmt.Sprintf("04DE5C%04X", len(o.placed)+1)
			o.placed = append(o.placed, uid)
			o.insert(uid, "")
		}
	case "to_feed", "put_aside", "":
		// "": between cards — nothing belongs on the reader.
		o.remove()
	case "tap_back":
		if o.card == nil && o.tapped != job+msg && len(o.placed) > 0 {
			o.tapped = job + msg
			uid := o.placed[len(o.placed)-1]
			o.insert(uid, o.dumps[uid])
		}
	}
}

// TestDeskKill9AtEveryStep runs a batch on a desk printer (a real
// ippeveprinter as the queue, vicc on the real pcscd as the desk reader)
// and kills the daemon with SIGKILL once at each step the operator sees,
// restarting it each time. A person settles what waits for one. No job may
// have two cards, and every blank that was put on the reader must be in
// the ledger.
func TestDeskKill9AtEveryStep(t *testing.T) {
	requirePcscd(t)
	const jobs = 6
	s := newE2E(t, e2eOpts{jobs: jobs, batch: jobs, printers: 0})
	eve := ipptest.StartEve(t, ipptest.EveOptions{})
	reader := vicc.ReaderName(vicc.Port0)
	f, err := os.OpenFile(s.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "[[printer]]\nname = \"d1\"\ntransport = \"ipp\"\nuri = %q\nencoder = \"desk\"\nencoder_reader = %q\n", eve.URI, reader)
	f.Close()
	s.startDaemon()
	s.ctl("stock", "receive", "--quantity", "100", "--ref", "DO-DESK-1")
	s.ctl("stock", "load", "--printer", "d1", "--quantity", "50")
	s.startBatches(jobs)

	op := &deskOperator{s: s, port: vicc.Port0, dir: t.TempDir(), dumps: map[string]string{}}
	t.Cleanup(op.remove)
	toKill := []string{"place_blank", "writing", "to_feed", "printing", "tap_back"}
	killed := map[string]bool{}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("desk batch did not finish: %+v; killed at %v", s.status(), killed)
		}
		// A person settles what the crash rule left for one: the card
		// with this job's face was never finished by the station, so it
		// is spoiled and the job printed again on a new blank.
		for _, job := range s.uncertainJobs() {
			s.ctlAs("tester", "", "attention", "spoil", job, "--reason", "never finished by the station (crash)")
		}
		step, job, msg := op.step()
		if step != "" && !killed[step] && deskContains(toKill, step) {
			s.daemon.cmd.Process.Signal(syscall.SIGKILL)
			<-s.daemon.done
			killed[step] = true
			t.Logf("killed the daemon at step %s (job %s)", step, job)
			op.remove() // the operator takes the card away while the station is down
			s.startDaemon()
			continue
		}
		op.act(step, job, msg)
		if s.settled() && s.uncertain() == 0 {
			if q := s.status().Queue; q["printed"]+q["attention"] == jobs {
				break
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Logf("killed at %d steps: %v", len(killed), killed)
	if len(killed) < 3 {
		t.Errorf("the daemon was killed at only %d of the desk steps", len(killed))
	}

	recs := s.ledger()
	consumed := map[string]int{}
	inLedger := map[string]string{}
	for _, r := range recs {
		switch r.Kind {
		case inventory.Consumed:
			consumed[r.Job]++
			inLedger[r.UID] = "consumed"
		case inventory.Spoiled:
			inLedger[r.UID] = "spoiled " + r.Reason
		}
	}
	for job, n := range consumed {
		if n > 1 {
			t.Errorf("job %s has %d cards", job, n)
		}
	}
	for _, uid := range op.placed {
		if inLedger[uid] == "" {
			// A blank the reader saw but whose chip was never touched (the
			// daemon died before the intent) is still a blank: it must not
			// be in any record as used.
			var untouched bool
			if d, err := vicc.ReadDump(op.dumps[uid]); err == nil && len(d.Files) == 0 {
				untouched = true
			}
			if !untouched {
				t.Errorf("blank %s was written on the desk reader but is not in the ledger", uid)
			}
		}
	}
	st := s.status()
	if st.Queue["printed"]+st.Queue["attention"] != jobs {
		t.Errorf("jobs %v: want all %d printed or waiting for a person", st.Queue, jobs)
	}
	t.Logf("blanks placed %d: %v", len(op.placed), inLedger)
	if !strings.Contains(fmt.Sprint(killed), "writing") && !killed["to_feed"] {
		t.Log("note: the kill schedule missed the chip steps this run")
	}
}

func deskContains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
