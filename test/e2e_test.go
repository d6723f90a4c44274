package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"printstation/inventory"
	"printstation/sim/chip/vicc"
)

// e2e is a whole station made of separate processes: centralsim, one
// printersim per printer (each with a virtual card bed on the real pcscd),
// and printstationd, driven by printstationctl.
type e2e struct {
	t        *testing.T
	dir      string
	station  string
	cfg      string
	sock     string
	printers []*simProc
	central  *exec.Cmd
	daemon   *proc
	env      []string
	web      string // the print-room page's address, with e2eOpts.web
}

type simProc struct {
	name, addr, out, dumps string
	admin                  string // the operator's hand actions (printersim --admin)
	port                   int    // vpcd port, 0 for none
	cmd                    *exec.Cmd
	done                   chan struct{}
	faults                 string
	speed                  string
}

type e2eOpts struct {
	jobs, batch int
	printers    int
	speed       string
	vicc        bool
	faults      map[int]string // printer index → fault file contents
	central     string         // centralsim --faults JSON
	maxAttempts int
	web         bool // serve the print-room web page on a free port
	noChip      bool // jobs without chip data: no encoder, no pcscd needed
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

// requirePcscd starts the real pcscd for the virtual-card tests. In CI it
// must be there (scripts/deps.sh installs it): a missing one is a failure.
func requirePcscd(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := vicc.EnsurePcscd(ctx); err != nil {
		if os.Getenv("CI") == "" {
			if _, lerr := exec.LookPath("vicc"); lerr != nil {
				t.Skipf("no pcscd/vicc here (%v); make test installs them", err)
			}
		}
		t.Fatalf("pcscd with vpcd: %v", err)
	}
}

func newE2E(t *testing.T, o e2eOpts) *e2e {
	t.Helper()
	dir := t.TempDir()
	s := &e2e{t: t, dir: dir, station: "ST-E2E-01", sock: filepath.Join(dir, "run", "printstationd.sock")}
	if o.speed == "" {
		o.speed = "500"
	}
	if o.maxAttempts == 0 {
		o.maxAttempts = 3
	}

	// The central server, as its own process.
	caddr := freeAddr(t)
	args := []string{"--listen", caddr, "--dir", filepath.Join(dir, "central"), "--station", s.station, "--jobs", fmt.Sprint(o.jobs), "--batch-size", fmt.Sprint(o.batch)}
	if o.central != "" {
		args = append(args, "--faults", o.central)
	}
	if o.noChip {
		args = append(args, "--no-chip")
	}
	s.central = exec.Command(binPath("centralsim"), args...)
	stdout, _ := s.central.StdoutPipe()
	cerr := &lockedBuf{}
	s.central.Stderr = cerr
	if err := s.central.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.central.Process.Kill(); s.central.Wait() })
	var first struct {
		Files struct{ CertFile, KeyFile, CAFile, WitnessVKeyFile, IssuerKID, IssuerKeyFile string } `json:"files"`
	}
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&first); err != nil {
		t.Fatalf("centralsim said nothing usable: %v\n%s", err, cerr.String())
	}
	waitFor(t, 30*time.Second, func() bool { return strings.Contains(cerr.String(), "serving on") }, "centralsim serving")
	// The station pins the centre's issuer key straight from the file the
	// centre publishes.
	keyToml := fmt.Sprintf("[[central.issuer_key]]\nid = %q\nfile = %q\n", first.Files.IssuerKID, first.Files.IssuerKeyFile)
	witness, _ := os.ReadFile(first.Files.WitnessVKeyFile)

	// The printers, each its own process that outlives a daemon crash.
	var toml strings.Builder
	fmt.Fprintf(&toml, "station_id = %q\nstorage_dir = %q\nruntime_dir = %q\n", s.station, filepath.Join(dir, "state"), filepath.Join(dir, "run"))
	fmt.Fprintf(&toml, "[log]\nlevel = \"info\"\nformat = \"json\"\n[engine]\nmax_attempts = %d\nshutdown_grace_seconds = 20\nchip_timeout_seconds = 15\ncheckpoint_every = 20\n", o.maxAttempts)
	fmt.Fprintf(&toml, "[central]\nurl = \"https://%s\"\nclient_cert = %q\nclient_key = %q\nca_file = %q\nwitness_key = %q\npoll_seconds = 2\n%s",
		caddr, first.Files.CertFile, first.Files.KeyFile, first.Files.CAFile, strings.TrimSpace(string(witness)), keyToml)
	if o.web {
		s.web = freeAddr(t)
		fmt.Fprintf(&toml, "[web]\nlisten = %q\n", s.web)
	} else {
		toml.WriteString("[web]\nlisten = \"\"\n") // no page: daemons in one test run do not race for a port
	}
	ports := []int{35963, 35964}
	for i := 0; i < o.printers; i++ {
		p := &simProc{name: fmt.Sprintf("p%d", i+1), addr: freeAddr(t), admin: freeAddr(t), out: filepath.Join(dir, "printers", fmt.Sprintf("p%d", i+1)), speed: o.speed}
		if o.vicc {
			p.port = ports[i]
			p.dumps = filepath.Join(dir, "chips", p.name)
		}
		if f, ok := o.faults[i]; ok {
			p.faults = filepath.Join(dir, p.name+".faults")
			os.WriteFile(p.faults, []byte(f), 0o644)
		}
		s.printers = append(s.printers, p)
		s.startPrinter(p)
		fmt.Fprintf(&toml, "[[printer]]\nname = %q\ntransport = \"tcp\"\naddress = %q\nfeeder_capacity = 200\n", p.name, p.addr)
		if p.port != 0 {
			fmt.Fprintf(&toml, "encoder_reader = %q\n", vicc.ReaderName(p.port))
		}
	}
	s.cfg = filepath.Join(dir, "station.toml")
	os.WriteFile(s.cfg, []byte(toml.String()), 0o644)
	return s
}

func (s *e2e) startPrinter(p *simProc) {
	args := []string{"--listen", p.addr, "--speed", p.speed, "--out", p.out, "--feeder", "200", "--serial", "SIM-" + p.name, "--admin", p.admin}
	if p.port != 0 {
		args = append(args, "--vicc-port", fmt.Sprint(p.port), "--chip-dumps", p.dumps)
	}
	if p.faults != "" {
		args = append(args, "--faults", p.faults)
	}
	p.cmd = exec.Command(binPath("printersim"), args...)
	out := &lockedBuf{}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); close(p.done) }()
	s.t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	waitFor(s.t, 30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "printersim "+p.name+" listening")
}

func (s *e2e) startDaemon() *proc {
	s.daemon = startDaemon(s.t, s.cfg)
	s.waitAnswering()
	s.addStaff()
	return s.daemon
}

// The test's staff: root makes their accounts (once per database; a
// restarted daemon keeps them). Each secret is the name plus "-secret".
var staff = []struct{ name, roles string }{
	{"tester", "operator,supervisor"}, {"ani", "operator"}, {"sari", "supervisor"}, {"adi", "admin"},
}

func secretOf(name string) string { return name + "-secret" }

func (s *e2e) addStaff() {
	s.t.Helper()
	for _, p := range staff {
		out, code := ctlIn(s.t, s.sock, secretOf(p.name)+"\n"+secretOf(p.name)+"\n", "user", "add", "--role", p.roles, p.name)
		if code != 0 && !strings.Contains(out, "exists") {
			s.t.Fatalf("user add %s (exit %d):\n%s", p.name, code, out)
		}
	}
}

// ctlAs runs printstationctl as account user; more lines of stdin (a
// witness's secret) follow the user's own.
func (s *e2e) ctlAs(user, stdin string, args ...string) (string, int) {
	s.t.Helper()
	return ctlIn(s.t, s.sock, secretOf(user)+"\n"+stdin, append([]string{"--user", user}, args...)...)
}

// waitAnswering waits until the daemon's local API answers; on failure it
// shows what the daemon logged.
func (s *e2e) waitAnswering() {
	s.t.Helper()
	end := time.Now().Add(60 * time.Second)
	for {
		if _, code := ctl(s.t, s.sock, "status"); code == 0 {
			return
		}
		if time.Now().After(end) {
			s.t.Fatalf("daemon not answering after 60 s; its log:\n%s", s.daemon.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ctl runs printstationctl as the account "tester" (operator and
// supervisor) and fails the test on a non-zero exit.
func (s *e2e) ctl(args ...string) string {
	s.t.Helper()
	out, code := s.ctlAs("tester", "", args...)
	if code != 0 {
		s.t.Fatalf("printstationctl %v (exit %d):\n%s", args, code, out)
	}
	return out
}

type statusJSON struct {
	Printers []struct {
		Name, State, Message string
	} `json:"printers"`
	Batches []struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		Total     int    `json:"total"`
		Printed   int    `json:"printed"`
		Remaining int    `json:"remaining"`
		Waiting   int    `json:"waiting"`
	} `json:"batches"`
	Queue map[string]int `json:"queue"`
}

func (s *e2e) status() statusJSON {
	var st statusJSON
	if err := json.Unmarshal([]byte(s.ctl("--json", "status")), &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// stock receives blanks and loads every printer.
func (s *e2e) stock(perPrinter int) {
	s.ctl("stock", "receive", "--quantity", fmt.Sprint(perPrinter*len(s.printers)+50), "--ref", "DO-E2E-1")
	for _, p := range s.printers {
		s.ctl("stock", "load", "--printer", p.name, "--quantity", fmt.Sprint(perPrinter))
	}
}

// startBatches waits until the station holds jobs jobs and starts every batch.
func (s *e2e) startBatches(jobs int) {
	waitFor(s.t, 120*time.Second, func() bool {
		total := 0
		for _, b := range s.status().Batches {
			total += b.Total
		}
		return total >= jobs
	}, fmt.Sprintf("%d jobs synced from centralsim", jobs))
	for _, b := range s.status().Batches {
		if b.State == "new" {
			s.ctl("batch", "start", b.ID)
		}
	}
}

// settled: every job ended or waits for a person.
func (s *e2e) settled() bool {
	st := s.status()
	for _, b := range st.Batches {
		if b.Remaining != b.Waiting {
			return false
		}
	}
	return len(st.Batches) > 0
}

// journal reads a printer simulator's physical events.
func (s *e2e) journal(p *simProc) []map[string]any {
	f, err := os.Open(filepath.Join(p.out, "journal.jsonl"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	var evs []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			evs = append(evs, m)
		}
	}
	return evs
}

// ledger exports the station's ledger from a copy of the database, as an
// auditor would, with the daemon stopped or running.
func (s *e2e) ledger() []inventory.ExportRecord {
	out, code := ctl(s.t, s.sock, "audit", "export", "--db", filepath.Join(s.dir, "state", "station.db"), "--format", "json")
	if code != 0 {
		s.t.Fatalf("audit export: %s", out)
	}
	var recs []inventory.ExportRecord
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		s.t.Fatalf("audit export json: %v\n%.500s", err, out)
	}
	return recs
}

func waitFor(t *testing.T, within time.Duration, cond func() bool, what string) {
	t.Helper()
	end := time.Now().Add(within)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// checkAgreement compares the ledger with the printers' physical journals
// and the virtual cards' dumps, card by card.
func (s *e2e) checkAgreement(wantPrinted int) {
	t := s.t
	recs := s.ledger()
	consumed := map[string]int{}
	uids := map[string]string{} // uid → job
	uidPrinter := map[string]string{}
	spoiledByPrinter := map[string]int{}
	consumedByPrinter := map[string]int{}
	crashSpoiled := map[string]int{}
	testSpoiled := map[string]int{} // test cards run through the daemon: they leave the printer too
	for _, r := range recs {
		switch r.Kind {
		case inventory.Consumed:
			consumed[r.Job]++
			consumedByPrinter[r.Printer]++
			if r.UID != inventory.UIDUnknown {
				if j, dup := uids[r.UID]; dup {
					t.Errorf("chip %s consumed for %s and %s", r.UID, j, r.Job)
				}
				uids[r.UID] = r.Job
				uidPrinter[r.UID] = r.Printer
			}
		case inventory.Spoiled:
			spoiledByPrinter[r.Printer]++
			if r.Reason == inventory.ReasonCrashUnconfirmed {
				crashSpoiled[r.Printer]++
			}
			if r.Reason == inventory.ReasonTest {
				testSpoiled[r.Printer]++
			}
		}
	}
	for job, n := range consumed {
		if n != 1 {
			t.Errorf("job %s has %d cards", job, n)
		}
	}
	if len(consumed) != wantPrinted {
		t.Errorf("%d jobs have a consumed card, want %d", len(consumed), wantPrinted)
	}
	for _, p := range s.printers {
		taken, out, rejected := 0, 0, 0
		for _, e := range s.journal(p) {
			switch e["event"] {
			case "blank_taken":
				taken++
			case "card_out":
				out++
			case "card_rejected", "card_removed":
				rejected++
			}
		}
		if taken != consumedByPrinter[p.name]+spoiledByPrinter[p.name] {
			t.Errorf("printer %s took %d blanks; the ledger has %d consumed + %d spoiled", p.name, taken, consumedByPrinter[p.name], spoiledByPrinter[p.name])
		}
		// A card that left the printer is consumed, unless a crash left it
		// uncertain and a person spoiled it.
		if out < consumedByPrinter[p.name] || out > consumedByPrinter[p.name]+crashSpoiled[p.name]+testSpoiled[p.name] {
			t.Errorf("printer %s put %d cards out; the ledger has %d consumed (+%d spoiled after a crash)", p.name, out, consumedByPrinter[p.name], crashSpoiled[p.name])
		}
		if p.dumps == "" {
			continue
		}
		// Every consumed chip's UID is a card the virtual bed saw, and its
		// files are what a personalized card holds.
		files, _ := filepath.Glob(filepath.Join(p.dumps, "*.json"))
		seen := map[string]vicc.Dump{}
		for _, f := range files {
			d, err := vicc.ReadDump(f)
			if err == nil {
				seen[strings.ToUpper(d.UID)] = d
			}
		}
		// Card by card: every card the printer put out carried a chip
		// whose UID the ledger has as consumed, on this printer.
		atEncoder := map[int]bool{}
		for _, e := range s.journal(p) {
			if e["event"] == "at_contactless" {
				atEncoder[int(e["card"].(float64))] = true
			}
		}
		for _, e := range s.journal(p) {
			if e["event"] != "card_out" {
				continue
			}
			n := int(e["card"].(float64))
			if !atEncoder[n] && testSpoiled[p.name] > 0 {
				continue // a test card: it never reached the encoder and has no chip to check
			}
			d, err := vicc.ReadDump(filepath.Join(p.dumps, fmt.Sprintf("card-%06d.json", n)))
			if err != nil {
				t.Errorf("printer %s card %d went out but its chip left no dump: %v", p.name, n, err)
				continue
			}
			job, ok := uids[strings.ToUpper(d.UID)]
			if !ok && crashSpoiled[p.name] == 0 {
				t.Errorf("printer %s card %d (chip %s) went out but the ledger has no consumed card with that chip", p.name, n, d.UID)
			} else if ok && uidPrinter[strings.ToUpper(d.UID)] != p.name {
				t.Errorf("chip %s of job %s went out of %s but the ledger says %s", d.UID, job, p.name, uidPrinter[strings.ToUpper(d.UID)])
			}
		}
		for uid, job := range uids {
			if uidPrinter[uid] != p.name {
				continue
			}
			d, ok := seen[uid]
			if !ok {
				t.Errorf("chip %s (job %s, printer %s) has no dump from the virtual card", uid, job, p.name)
				continue
			}
			n := 0
			for _, f := range d.Files {
				n += len(f.Data) / 2
			}
			if n < 4096 {
				t.Errorf("chip %s of job %s holds %d bytes, want the job's ~8 KB", uid, job, n)
			}
		}
	}
	out, code := ctl(s.t, s.sock, "audit", "verify", "--db", filepath.Join(s.dir, "state", "station.db"))
	if code != 0 {
		t.Errorf("audit verify failed:\n%s", out)
	}
}

func TestEndToEndBatchOnTwoPrinters(t *testing.T) {
	requirePcscd(t)
	s := newE2E(t, e2eOpts{jobs: 50, batch: 25, printers: 2, vicc: true})
	s.startDaemon()
	s.stock(100)
	s.startBatches(50)
	waitFor(t, 15*time.Minute, s.settled, "the batches to finish")
	st := s.status()
	if st.Queue["printed"] != 50 {
		t.Fatalf("printed %d of 50; status %+v", st.Queue["printed"], st)
	}
	s.checkAgreement(50)
	checkLogHasNoPersonalKeys(t, s.daemon.stderr.String())
}
