package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// rig is one station made of separate processes, as in production:
// centralsim, one printersim per printer and printstationd, driven through
// printstationctl. Every wait is bounded.
type rig struct {
	bin, dir, station string
	centralAddr       string
	// linkAddr, when set, is where the station reaches the centre instead
	// of centralAddr (the wire scenario's counting relay).
	linkAddr   string
	files      centralFiles
	central    *child
	printers   []*simProc
	extra      []*simProc // simulators outside the config
	daemon     *child
	cfg, sock  string
	notify     *net.UnixConn
	notifyPath string
	// startCPU is the daemon's CPU for the last runBatch's batch start
	// commands: signed-in calls, each a password hash (argon2id).
	startCPU time.Duration
	// started, when set, runs as soon as the batches are started (the
	// printer driven alone at the same time, --paired).
	started func()
	// warmCards, warmCPU: cards out and the daemon's CPU at the first
	// look past the warm-up (waitPrinted); 0 when never seen.
	warmCards int
	warmCPU   time.Duration
	// idleCPU is the daemon's CPU per second of wall time with nothing to
	// print, measured by runBatch just before the batch starts.
	idleCPU time.Duration
	// peakKB is the daemon's VmHWM at the end of the last runBatch.
	peakKB int64
}

type centralFiles struct {
	CertFile, KeyFile, CAFile, WitnessVKeyFile, IssuerKID, IssuerKeyFile string
}

type simProc struct {
	name, addr, out string
	vpcdPort        int
	child           *child
}

// child is a started process with its output kept for error messages.
type child struct {
	cmd  *exec.Cmd
	out  *lockedBuf
	done chan struct{}
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the tail only: a long run logs a lot
		tail := append([]byte(nil), l.b.Bytes()[l.b.Len()-(256<<10):]...)
		l.b.Reset()
		l.b.Write(tail)
	}
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(name string, args []string, env []string) (*child, error) {
	cmd := exec.Command(name, args...)
	c := &child{cmd: cmd, out: &lockedBuf{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(name), err)
	}
	go func() { cmd.Wait(); close(c.done) }()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM and waits up to d, then kills.
func (c *child) stop(d time.Duration) {
	if c == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(d):
		c.cmd.Process.Kill()
		<-c.done
	}
}

func waitUntil(within time.Duration, what string, cond func() bool) error {
	end := time.Now().Add(within)
	for !cond() {
		if time.Now().After(end) {
			return fmt.Errorf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

type centralOpts struct {
	jobs, batch int
	noChip      bool
	photoPool   int
	images      string // centralsim --images: "" (its default, webp) or png
	taskset     string // CPU list for taskset, "" for none
}

func newRig(bin, dir string, co centralOpts) (*rig, error) {
	r := &rig{bin: bin, dir: dir, station: "ST-BENCH-01", sock: filepath.Join(dir, "run", "printstationd.sock")}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r.centralAddr = addr
	if co.batch == 0 {
		co.batch = 50
	}
	args := []string{"--listen", addr, "--dir", filepath.Join(dir, "central"), "--station", r.station,
		"--jobs", fmt.Sprint(co.jobs), "--batch-size", fmt.Sprint(co.batch)}
	if co.noChip {
		args = append(args, "--no-chip")
	}
	if co.photoPool > 0 {
		args = append(args, "--photo-pool", fmt.Sprint(co.photoPool))
	}
	if co.images != "" {
		args = append(args, "--images", co.images)
	}
	exe := filepath.Join(bin, "centralsim")
	if co.taskset != "" {
		args = append([]string{"-c", co.taskset, exe}, args...)
		exe = "taskset"
	}
	c, err := start(exe, args, nil)
	if err != nil {
		return nil, err
	}
	r.central = c
	// centralsim prints one JSON line with the station's files, then
	// "serving on" once it listens (after issuing the jobs).
	err = waitUntil(30*time.Minute, "centralsim serving", func() bool {
		select {
		case <-c.done:
			return true
		default:
		}
		return strings.Contains(c.out.String(), "serving on")
	})
	if err == nil && !strings.Contains(c.out.String(), "serving on") {
		err = errors.New("centralsim exited")
	}
	if err != nil {
		r.close()
		return nil, fmt.Errorf("%w\n%s", err, tail(c.out.String()))
	}
	var first struct {
		Files centralFiles `json:"files"`
	}
	line, _, _ := bufio.NewReader(strings.NewReader(c.out.String())).ReadLine()
	if err := json.Unmarshal(line, &first); err != nil {
		r.close()
		return nil, fmt.Errorf("centralsim's first line: %w", err)
	}
	r.files = first.Files
	return r, nil
}

// addPrinter starts a printersim at speed; vpcdPort ≠ 0 puts a virtual
// card on that vpcd reader for every blank (the chip test bed).
func (r *rig) addPrinter(speed float64, feeder, vpcdPort int, taskset string) (*simProc, error) {
	p, err := r.startSim(fmt.Sprintf("p%d", len(r.printers)+1), speed, feeder, vpcdPort, taskset)
	if p != nil {
		r.printers = append(r.printers, p)
	}
	return p, err
}

// newSim starts a printer simulator that is not in the station's config
// (the baseline's printer driven alone).
func (r *rig) newSim(name string, speed float64, feeder, vpcdPort int, taskset string) (*simProc, error) {
	p, err := r.startSim(name, speed, feeder, vpcdPort, taskset)
	if p != nil {
		r.extra = append(r.extra, p)
	}
	return p, err
}

func (r *rig) startSim(name string, speed float64, feeder, vpcdPort int, taskset string) (*simProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &simProc{name: name, addr: addr, out: filepath.Join(r.dir, "printers", name), vpcdPort: vpcdPort}
	args := []string{"--listen", addr, "--speed", strconv.FormatFloat(speed, 'g', -1, 64), "--out", p.out,
		"--feeder", fmt.Sprint(feeder), "--serial", "BENCH-" + name}
	if vpcdPort != 0 {
		args = append(args, "--vicc-port", fmt.Sprint(vpcdPort))
	}
	exe := filepath.Join(r.bin, "printersim")
	if taskset != "" {
		args = append([]string{"-c", taskset, exe}, args...)
		exe = "taskset"
	}
	c, err := start(exe, args, nil)
	if err != nil {
		return nil, err
	}
	p.child = c
	if err := waitUntil(30*time.Second, "printersim "+name+" listening", func() bool {
		return strings.Contains(c.out.String(), "listening on")
	}); err != nil {
		return p, fmt.Errorf("%w\n%s", err, tail(c.out.String()))
	}
	return p, nil
}

type daemonOpts struct {
	prefetch int
	poll     int
	taskset  string // CPU list for taskset, "" for none
}

func (r *rig) writeConfig(o daemonOpts) error {
	if o.prefetch == 0 {
		o.prefetch = 200
	}
	if o.poll == 0 {
		o.poll = 1
	}
	witness, err := os.ReadFile(r.files.WitnessVKeyFile)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "station_id = %q\nstorage_dir = %q\nruntime_dir = %q\n", r.station, filepath.Join(r.dir, "state"), filepath.Join(r.dir, "run"))
	fmt.Fprintf(&b, "[log]\nlevel = \"warn\"\nformat = \"json\"\n[web]\nlisten = \"\"\n")
	fmt.Fprintf(&b, "[queue]\nprefetch_jobs = %d\nprefetch_mb = 1000\n", o.prefetch)
	fmt.Fprintf(&b, "[engine]\nmax_attempts = 3\nshutdown_grace_seconds = 20\nchip_timeout_seconds = 15\ncheckpoint_every = 50\n")
	link := r.centralAddr
	if r.linkAddr != "" {
		link = r.linkAddr
	}
	fmt.Fprintf(&b, "[central]\nurl = \"https://%s\"\nclient_cert = %q\nclient_key = %q\nca_file = %q\nwitness_key = %q\npoll_seconds = %d\n",
		link, r.files.CertFile, r.files.KeyFile, r.files.CAFile, strings.TrimSpace(string(witness)), o.poll)
	fmt.Fprintf(&b, "[[central.issuer_key]]\nid = %q\nfile = %q\n", r.files.IssuerKID, r.files.IssuerKeyFile)
	for _, p := range r.printers {
		fmt.Fprintf(&b, "[[printer]]\nname = %q\ntransport = \"tcp\"\naddress = %q\nfeeder_capacity = 1000\n", p.name, p.addr)
		if p.vpcdPort != 0 {
			fmt.Fprintf(&b, "encoder_reader = %q\n", readerName(p.vpcdPort))
		}
	}
	r.cfg = filepath.Join(r.dir, "station.toml")
	return os.WriteFile(r.cfg, []byte(b.String()), 0o644)
}

// warmup is how many cards a batch prints before its steady state is
// measured (waitPrinted): the first cards of a daemon draw the template's
// static layers, convert them and fill the glyph cache — once a start.
const warmup = 10

// daemonEnv is added to printstationd's environment (--daemon-env).
var daemonEnv []string

// profileDir, when set (--profile), receives a CPU profile of each batch's
// measured window, <scenario>.pprof, from a printstationd built with
// -tags cpuprofile (cmd/printstationd/cpuprofile.go).
var profileDir string

// profileSignal starts (SIGUSR1) or stops (SIGUSR2) the daemon's profile.
func (r *rig) profileSignal(s syscall.Signal) {
	if profileDir != "" {
		syscall.Kill(r.daemonPID(), s)
	}
}

// startDaemon starts printstationd with a notify socket standing in for
// systemd's and returns how long it took from exec to READY=1.
func (r *rig) startDaemon(o daemonOpts) (time.Duration, error) {
	if r.notify == nil {
		r.notifyPath = filepath.Join(r.dir, "notify.sock")
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: r.notifyPath, Net: "unixgram"})
		if err != nil {
			return 0, err
		}
		r.notify = c
	}
	ready := make(chan time.Time, 1)
	go func(c *net.UnixConn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				if l == "READY=1" {
					select {
					case ready <- time.Now():
					default:
					}
					return
				}
			}
		}
	}(r.notify)
	exe, args := filepath.Join(r.bin, "printstationd"), []string{"run", "--config", r.cfg}
	if o.taskset != "" {
		args = append([]string{"-c", o.taskset, exe}, args...)
		exe = "taskset"
	}
	t0 := time.Now()
	env := append([]string{"NOTIFY_SOCKET=" + r.notifyPath}, daemonEnv...)
	if profileDir != "" {
		env = append(env, "PRINTSTATIOND_CPUPROFILE="+filepath.Join(profileDir, filepath.Base(r.dir)+".pprof"))
	}
	c, err := start(exe, args, env)
	if err != nil {
		return 0, err
	}
	r.daemon = c
	select {
	case t := <-ready:
		if err := r.addStaff(); err != nil {
			return 0, fmt.Errorf("%w:\n%s", err, tail(c.out.String()))
		}
		return t.Sub(t0), nil
	case <-c.done:
		return 0, fmt.Errorf("printstationd exited before READY=1:\n%s", tail(c.out.String()))
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("no READY=1 from printstationd within 2 min:\n%s", tail(c.out.String()))
	}
}

// The benchmark's staff account (operator and supervisor), made by root
// once per station database; printstationctl runs as it.
const benchUser, benchSecret = "bench", "bench-secret-18"

func (r *rig) ctl(args ...string) (string, error) {
	return r.ctlIn(benchSecret+"\n", append([]string{"--user", benchUser}, args...)...)
}

func (r *rig) ctlIn(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(r.bin, "printstationctl"), append([]string{"--socket", r.sock}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("printstationctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// addStaff makes the benchmark's account, as root, once the daemon answers.
func (r *rig) addStaff() error {
	return waitUntil(time.Minute, "printstationd answering and the bench account made", func() bool {
		out, err := r.ctlIn(benchSecret+"\n"+benchSecret+"\n", "user", "add", "--role", "operator,supervisor", benchUser)
		return err == nil || strings.Contains(out, "exists")
	})
}

type status struct {
	Batches []struct {
		ID                                 string `json:"id"`
		State                              string `json:"state"`
		Total, Printed, Remaining, Waiting int
	} `json:"batches"`
	Queue map[string]int `json:"queue"`
}

// status reads as root, without the account: a signed-in call costs the
// daemon a password hash, which the benchmark's polling must not add to
// the CPU it measures.
func (r *rig) status() (status, error) {
	var st status
	out, err := r.ctlIn("", "--json", "status")
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal([]byte(out), &st)
}

func (st status) totals() (jobs, printed, waiting int) {
	for _, b := range st.Batches {
		jobs += b.Total
		printed += b.Printed
		waiting += b.Waiting
	}
	return
}

// stock receives blanks and loads each printer with perPrinter.
func (r *rig) stock(perPrinter int) error {
	if _, err := r.ctl("stock", "receive", "--quantity", fmt.Sprint(perPrinter*len(r.printers)+10), "--ref", "DO-BENCH-1"); err != nil {
		return err
	}
	for _, p := range r.printers {
		if _, err := r.ctl("stock", "load", "--printer", p.name, "--quantity", fmt.Sprint(perPrinter)); err != nil {
			return err
		}
	}
	return nil
}

// waitJobs waits until the station holds at least n jobs.
func (r *rig) waitJobs(n int, within time.Duration) error {
	return waitUntil(within, fmt.Sprintf("%d jobs synced", n), func() bool {
		st, err := r.status()
		if err != nil {
			return false
		}
		j, _, _ := st.totals()
		return j >= n
	})
}

// startBatches starts every batch still new.
func (r *rig) startBatches() error {
	st, err := r.status()
	if err != nil {
		return err
	}
	for _, b := range st.Batches {
		if b.State == "new" {
			if _, err := r.ctl("batch", "start", b.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitPrinted waits until n cards are out of the station's printers and
// printstationd has recorded them printed; a job waiting for a person is an
// error. Progress is read from the simulators' own journals (a file read in
// this process, no daemon CPU); the daemon is asked (one root status call,
// ≈ 1.5 ms of its CPU) only every 5 s, to see a job waiting for a person,
// and at the end. Polling the daemon's status every 250 ms, as the bench
// did before, cost it ≈ 0.4–0.8 ms a card inside the measured window at
// the pace of a printer at zero mechanical time.
func (r *rig) waitPrinted(n int, within time.Duration) error {
	end := time.Now().Add(within)
	lastAsk := time.Now()
	r.warmCards, r.warmCPU = 0, 0
	for {
		out := 0
		for _, p := range r.printers {
			out += journalCount(p.out, "card_out")
		}
		if r.warmCards == 0 && out >= warmup && out < n {
			// Where the steady state starts: the daemon's CPU at the
			// first look past the warm-up cards, and how many were out.
			if c, err := cpuTime(r.daemonPID()); err == nil {
				r.warmCards, r.warmCPU = out, c
			}
		}
		if out >= n || time.Since(lastAsk) >= 5*time.Second {
			lastAsk = time.Now()
			st, err := r.status()
			if err == nil {
				_, p, w := st.totals()
				if w > 0 {
					return fmt.Errorf("%d job(s) wait for a person; see %s", w, r.dir)
				}
				if p >= n {
					return nil
				}
			}
		}
		if time.Now().After(end) {
			return fmt.Errorf("fewer than %d cards printed within %s", n, within)
		}
		if out >= n {
			time.Sleep(20 * time.Millisecond) // the last outcome's commit
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// journalCount counts the events of one kind in a simulator's journal.
func journalCount(out, event string) int {
	b, err := os.ReadFile(filepath.Join(out, "journal.jsonl"))
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte(`"event":"`+event+`"`))
}

// centralClient is an mTLS client of centralsim's admin endpoints, as the
// station's certificate.
func (r *rig) centralClient() (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(r.files.CertFile, r.files.KeyFile)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(r.files.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

// waitOutcomes waits until centralsim holds n outcomes from the station:
// the push of every card's outcome belongs to the card's CPU. Asking
// centralsim costs the daemon nothing.
func (r *rig) waitOutcomes(n int, within time.Duration) error {
	hc, err := r.centralClient()
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	return waitUntil(within, fmt.Sprintf("%d outcomes at the centre", n), func() bool {
		resp, err := hc.Get("https://" + r.centralAddr + "/admin/outcomes?station=" + r.station)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var outs []json.RawMessage
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&outs) != nil {
			return false
		}
		return len(outs) >= n
	})
}

// setLink takes the central link down (every connection cut) or up.
func (r *rig) setLink(up bool) error {
	hc, err := r.centralClient()
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	body := `{"drop_rate":1}`
	if up {
		body = `{}`
	}
	resp, err := hc.Post("https://"+r.centralAddr+"/admin/faults", "application/json", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("centralsim faults: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("centralsim faults: %s", resp.Status)
	}
	return nil
}

func (r *rig) close() {
	if r.daemon != nil {
		r.daemon.stop(30 * time.Second)
	}
	for _, p := range append(r.printers, r.extra...) {
		p.child.stop(5 * time.Second)
	}
	if r.central != nil {
		r.central.stop(5 * time.Second)
	}
	if r.notify != nil {
		r.notify.Close()
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

// ---- /proc ----

// clkTck is USER_HZ, 100 on every Linux the station runs on.
const clkTck = 100

// cpuTime is the process's user+system CPU time (all threads) from
// /proc/<pid>/stat fields 14 and 15, in clock ticks of 10 ms.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields count from after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// memKB reads VmRSS and VmHWM (peak RSS) from /proc/<pid>/status.
func memKB(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	return rss, hwm, nil
}

// daemonPID is printstationd's pid, also when it runs under taskset (which
// execs it, keeping the pid).
func (r *rig) daemonPID() int { return r.daemon.pid() }

// ---- the printer's own clock ----

type journalEvent struct {
	Card  int       `json:"card"`
	Event string    `json:"event"`
	Time  time.Time `json:"time"`
}

// pause is the printer's median time from one card out (ejected) to the
// next blank taken, from its own journal.
func pause(out string) (time.Duration, error) {
	evs, err := journalOf(out)
	if err != nil {
		return 0, err
	}
	var d []time.Duration
	var out0 time.Time
	for _, ev := range evs {
		switch ev.Event {
		case "card_out":
			out0 = ev.Time
		case "blank_taken":
			if !out0.IsZero() {
				d = append(d, ev.Time.Sub(out0))
			}
			out0 = time.Time{}
		}
	}
	if len(d) == 0 {
		return 0, fmt.Errorf("%s: no card out followed by a blank taken", out)
	}
	slices.Sort(d)
	return d[len(d)/2], nil
}

func journalOf(out string) ([]journalEvent, error) {
	f, err := os.Open(filepath.Join(out, "journal.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var evs []journalEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev journalEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			evs = append(evs, ev)
		}
	}
	return evs, sc.Err()
}

// cycle is the printer's median time from one blank taken to the next,
// from its own journal: the pace the printer ran at, whoever drove it. The
// median, not the mean: the chip write on the virtual card (a Python
// process on a shared machine) now and then takes a few hundred ms longer,
// on either side of the comparison.
func cycle(out string) (per time.Duration, cards int, err error) {
	f, err := os.Open(filepath.Join(out, "journal.jsonl"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var taken []time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev journalEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Event != "blank_taken" {
			continue
		}
		taken = append(taken, ev.Time)
	}
	if len(taken) < 2 {
		return 0, len(taken), fmt.Errorf("%s: %d blanks taken; need at least 2", out, len(taken))
	}
	d := make([]time.Duration, 0, len(taken)-1)
	for i := 1; i < len(taken); i++ {
		d = append(d, taken[i].Sub(taken[i-1]))
	}
	slices.Sort(d)
	return d[len(d)/2], len(taken), nil
}
