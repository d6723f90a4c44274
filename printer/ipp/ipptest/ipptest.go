// Package ipptest starts real IPP print servers for tests, each a separate
// process on a loopback port: ippeveprinter (CUPS's IPP Everywhere printer)
// with a print command the test steers, and cupsd with its own
// configuration and a queue in front of such a printer.
//
// The print command copies every document it gets to Out, reports the
// marker levels and state reasons the test put in files, and can hold the
// job (a card in the printer for as long as the test wants) or fail it.
// ippeveprinter needs DNS-SD even with -r off: Avahi (and the system D-Bus
// it needs) are started when not running, as scripts/testbed-up.sh does.
package ipptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Need fails the test, naming the package to install, when a binary is
// missing: scripts/deps.sh installs them.
func Need(t testing.TB, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is not installed: run scripts/deps.sh (Debian packages cups, cups-ipp-utils, avahi-daemon, dbus)", b)
		}
	}
}

// Avahi makes sure the system D-Bus and avahi-daemon run.
func Avahi(t testing.TB) {
	t.Helper()
	Need(t, "avahi-daemon", "dbus-daemon")
	if exec.Command("avahi-daemon", "--check").Run() == nil {
		return
	}
	if !busAnswers() {
		// A machine restored from an image (CI's) keeps /run/dbus from the
		// moment it was taken: a socket nobody listens on and a pid file that
		// makes dbus-daemon refuse to start. Both are stale when the socket
		// refuses a connection.
		os.Remove(systemBus)
		os.Remove("/run/dbus/pid")
		os.MkdirAll("/run/dbus", 0o755)
		if out, err := exec.Command("dbus-daemon", "--system", "--fork").CombinedOutput(); err != nil && !bytes.Contains(out, []byte("already running")) {
			t.Fatalf("starting the system D-Bus for avahi: %v: %s", err, out)
		}
	}
	if _, err := exec.Command("avahi-daemon", "-D").CombinedOutput(); err != nil && exec.Command("avahi-daemon", "--check").Run() != nil {
		// -D logs its reason to syslog only; a short run in the foreground
		// says it on stderr.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		why, _ := exec.CommandContext(ctx, "avahi-daemon", "--debug").CombinedOutput()
		t.Fatalf("starting avahi-daemon (ippeveprinter needs DNS-SD): %v: %s", err, why)
	}
	for i := 0; i < 50; i++ {
		if exec.Command("avahi-daemon", "--check").Run() == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("avahi-daemon did not come up in 5 s")
}

const systemBus = "/run/dbus/system_bus_socket"

// busAnswers reports whether a system D-Bus listens on its socket.
func busAnswers() bool {
	c, err := net.DialTimeout("unix", systemBus, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// FreePort returns a loopback TCP port nobody listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Eve is a running ippeveprinter.
type Eve struct {
	URI  string // ipp://localhost:PORT/ipp/print
	Port int
	Dir  string // control files
	Out  string // documents the print command received: job-N.EXT
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

const command = `#!/bin/sh
# Print command for ippeveprinter: keeps the document, says what the test
# wants said, holds or fails the job when told.
d=%q
ext=bin
case "$CONTENT_TYPE" in image/png) ext=png;; application/pdf) ext=pdf;; esac
cp "$1" "$d/out/.job-$IPP_JOB_ID.$ext" && mv "$d/out/.job-$IPP_JOB_ID.$ext" "$d/out/job-$IPP_JOB_ID.$ext"
env | grep '^IPP_' > "$d/out/job-$IPP_JOB_ID.env"
[ -f "$d/attr" ] && cat "$d/attr" >&2
[ -f "$d/state" ] && echo "STATE: $(cat "$d/state")" >&2
touch "$d/started-$IPP_JOB_ID"
i=0
while [ -f "$d/hold" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
[ -f "$d/state-after" ] && echo "STATE: $(cat "$d/state-after")" >&2
if [ -f "$d/fail" ]; then echo "ERROR: the test failed this job" >&2; exit 1; fi
exit 0
`

// EveOptions shape the printer.
type EveOptions struct {
	Duplex bool   // -2: sides two-sided-long-edge supported
	Attrs  string // contents of an -a attributes file (ipptool syntax), e.g. more media
}

// StartEve starts ippeveprinter on a free loopback port, stopped at the
// test's end.
func StartEve(t testing.TB, o EveOptions) *Eve {
	t.Helper()
	Need(t, "ippeveprinter")
	Avahi(t)
	dir := t.TempDir()
	for _, sub := range []string{"out", "spool"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "print.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(command, dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for try := 0; try < 3; try++ {
		port := FreePort(t)
		args := []string{"-r", "off", "-n", "localhost", "-p", strconv.Itoa(port), "-d", filepath.Join(dir, "spool"), "-k",
			"-c", script, "-f", "image/png,application/pdf", "-m", "Card Printer", "-M", "Printstation Test"}
		if o.Duplex {
			args = append(args, "-2")
		}
		if o.Attrs != "" {
			af := filepath.Join(dir, "attrs.conf")
			if err := os.WriteFile(af, []byte(o.Attrs), 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, "-a", af)
		}
		args = append(args, fmt.Sprintf("card%d", port))
		log := &bytes.Buffer{}
		cmd := exec.Command("ippeveprinter", args...)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		e := &Eve{URI: fmt.Sprintf("ipp://localhost:%d/ipp/print", port), Port: port, Dir: dir, Out: filepath.Join(dir, "out"), cmd: cmd, log: log}
		if lastErr = waitPort(port, cmd, 10*time.Second); lastErr == nil {
			t.Cleanup(e.Stop)
			return e
		}
		e.Stop()
		lastErr = fmt.Errorf("%w; its output: %s", lastErr, log.String())
	}
	t.Fatalf("ippeveprinter did not start: %v", lastErr)
	return nil
}

func waitPort(port int, cmd *exec.Cmd, d time.Duration) error {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("it exited")
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("localhost:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("port %d not open after %s", port, d)
}

// Stop ends the printer's process group.
func (e *Eve) Stop() {
	if e.cmd != nil && e.cmd.Process != nil {
		syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
		e.cmd.Process.Kill()
	}
}

// Log is what ippeveprinter printed.
func (e *Eve) Log() string { return e.log.String() }

func (e *Eve) set(name, content string) {
	p := filepath.Join(e.Dir, name)
	if content == "" {
		os.Remove(p)
		return
	}
	os.WriteFile(p, []byte(content), 0o644)
}

// SetState makes the next job's command say "STATE: s" (e.g. "+media-empty"
// or "-media-empty"); "" says nothing.
func (e *Eve) SetState(s string) { e.set("state", s) }

// SetStateAfter makes the command say "STATE: s" after the hold, before it
// ends the job.
func (e *Eve) SetStateAfter(s string) { e.set("state-after", s) }

// SetAttr makes the command say these ATTR: lines (marker levels).
func (e *Eve) SetAttr(lines string) { e.set("attr", lines) }

// Hold keeps every job in the printer until Release.
func (e *Eve) Hold() { e.set("hold", "1") }

// Release lets held jobs finish.
func (e *Eve) Release() { e.set("hold", "") }

// Fail makes jobs end in error (aborted) until unset.
func (e *Eve) Fail(on bool) {
	if on {
		e.set("fail", "1")
	} else {
		e.set("fail", "")
	}
}

// Started waits until the command runs for job id (the card is in the
// printer), bounded.
func (e *Eve) Started(ctx context.Context, id int) error {
	return waitFile(ctx, filepath.Join(e.Dir, fmt.Sprintf("started-%d", id)))
}

// StartedAny waits until the command runs for some job and returns its id.
func (e *Eve) StartedAny(ctx context.Context) (int, error) {
	for {
		m, _ := filepath.Glob(filepath.Join(e.Dir, "started-*"))
		if len(m) > 0 {
			n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(m[0]), "started-"))
			return n, err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no job reached the printer: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func waitFile(ctx context.Context, p string) error {
	for {
		if _, err := os.Stat(p); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", filepath.Base(p), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Documents lists the documents received, sorted by job id.
func (e *Eve) Documents() []string {
	m, _ := filepath.Glob(filepath.Join(e.Out, "job-*.*"))
	var docs []string
	for _, f := range m {
		if !strings.HasSuffix(f, ".env") {
			docs = append(docs, f)
		}
	}
	sort.Slice(docs, func(i, j int) bool { return jobNum(docs[i]) < jobNum(docs[j]) })
	return docs
}

func jobNum(p string) int {
	b := strings.TrimPrefix(filepath.Base(p), "job-")
	n, _ := strconv.Atoi(strings.SplitN(b, ".", 2)[0])
	return n
}

// Env is the IPP_ environment the command saw for a document's job
// (IPP_SIDES, IPP_MEDIA, …).
func Env(doc string) map[string]string {
	ext := filepath.Ext(doc)
	b, _ := os.ReadFile(strings.TrimSuffix(doc, ext) + ".env")
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	return env
}

// CUPS is a running cupsd with its own configuration, spool and socket.
type CUPS struct {
	Port int
	Dir  string
	Sock string // local socket for lpadmin, cupsdisable, … (-h)
	cmd  *exec.Cmd
	done chan struct{}
}

// StartCUPS starts cupsd in the foreground on a free loopback port; it is
// stopped at the test's end. Restart stops and starts it on the same port
// and spool, as a crash and a restart by systemd would.
func StartCUPS(t testing.TB) *CUPS {
	t.Helper()
	Need(t, "cupsd", "lpadmin", "cupsdisable", "cupsenable")
	dir := t.TempDir()
	for _, sub := range []string{"spool", "spool/tmp", "cache", "state", "log", "ppd"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "spool", "tmp"), 0o1777)
	// Filters and backends run as lp: they must reach the spool (the
	// test's temporary folders are 0700).
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	c := &CUPS{Port: FreePort(t), Dir: dir, Sock: filepath.Join(dir, "cups.sock")}
	files := fmt.Sprintf(`ServerRoot %[1]s
RequestRoot %[1]s/spool
TempDir %[1]s/spool/tmp
CacheDir %[1]s/cache
StateDir %[1]s/state
AccessLog %[1]s/log/access_log
ErrorLog %[1]s/log/error_log
PageLog %[1]s/log/page_log
ServerBin /usr/lib/cups
DataDir /usr/share/cups
DocumentRoot /usr/share/cups/doc-root
FileDevice Yes
SystemGroup root
User lp
Group lp
`, dir)
	conf := fmt.Sprintf(`Listen 127.0.0.1:%d
Listen %s
Browsing Off
LogLevel info
WebInterface No
PreserveJobHistory Yes
<Location />
  Order allow,deny
  Allow from 127.0.0.1
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
`, c.Port, c.Sock)
	if err := os.WriteFile(filepath.Join(dir, "cups-files.conf"), []byte(files), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cupsd.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Start(t)
	t.Cleanup(c.Stop)
	return c
}

// Start starts cupsd and waits until it answers.
func (c *CUPS) Start(t testing.TB) {
	t.Helper()
	cmd := exec.Command("cupsd", "-f", "-c", filepath.Join(c.Dir, "cupsd.conf"), "-s", filepath.Join(c.Dir, "cups-files.conf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.cmd = cmd
	c.done = make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(c.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			t.Fatalf("cupsd exited: %s %s", out.String(), c.ErrorLog())
		default:
		}
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.Port), 200*time.Millisecond); err == nil {
			conn.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("cupsd not listening after 10 s: %s", c.ErrorLog())
}

// Stop ends cupsd (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (c *CUPS) Stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
	c.cmd = nil
}

// ErrorLog is cupsd's log.
func (c *CUPS) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "log", "error_log"))
	return string(b)
}

// Queue adds an enabled raw queue named name in front of device (an IPP
// printer's URI): the document reaches the printer byte for byte, as with
// a card printer's driver that takes PNG. It returns the queue's URI.
func (c *CUPS) Queue(t testing.TB, name, device string) string {
	t.Helper()
	c.Run(t, "lpadmin", "-p", name, "-E", "-v", device, "-m", "raw")
	return fmt.Sprintf("ipp://127.0.0.1:%d/printers/%s", c.Port, name)
}

// Run runs a CUPS command-line tool against this cupsd.
func (c *CUPS) Run(t testing.TB, tool string, args ...string) {
	t.Helper()
	out, err := exec.Command(tool, append([]string{"-h", c.Sock}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", tool, args, err, out)
	}
}
