package test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifyListener is a unixgram socket standing in for systemd's.
type notifyListener struct {
	path string
	conn *net.UnixConn
	msgs chan string
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifyListener{path: p, conn: c, msgs: make(chan string, 100)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			for _, line := range strings.Split(string(buf[:k]), "\n") {
				n.msgs <- line
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return n
}

// waitFor reads notify messages until one matches prefix.
func (n *notifyListener) waitFor(t *testing.T, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatalf("notify socket closed before %q", prefix)
			}
			if strings.HasPrefix(m, prefix) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q from the daemon within %s", prefix, within)
		}
	}
}

func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	cfg := filepath.Join(dir, "station.toml")
	os.WriteFile(filepath.Join(dir, "issuer.pub"), []byte("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n"), 0o644)
	body := "station_id = \"ST-TEST-01\"\nstorage_dir = \"" + filepath.Join(dir, "state") + "\"\nruntime_dir = \"" + filepath.Join(dir, "run") + "\"\n" +
		"[[central.issuer_key]]\nid = \"issuer-1\"\nfile = \"issuer.pub\"\n[web]\nlisten = \"\"\n" + extra
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type proc struct {
	cmd    *exec.Cmd
	stderr *lockedBuf
	done   chan struct{} // closed when the process has exited
	err    error         // its exit, once done is closed
}

func startDaemon(t *testing.T, cfg string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(binPath("printstationd"), "run", "--config", cfg)
	errb := &lockedBuf{}
	cmd.Stderr = errb
	cmd.Stdout = errb
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: errb, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// ctl runs printstationctl as this test's user (root: it may read and
// manage accounts, not act on cards).
func ctl(t *testing.T, socket string, args ...string) (string, int) {
	t.Helper()
	return ctlIn(t, socket, "", args...)
}

// ctlIn is ctl with stdin (secrets, one per line).
func ctlIn(t *testing.T, socket, stdin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath("printstationctl"), append([]string{"--socket", socket}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestDaemonLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "[log]\nlevel = \"info\"\nformat = \"json\"\n[engine]\nshutdown_grace_seconds = 5\n")
	sock := filepath.Join(dir, "run", "printstationd.sock")

	n := listenNotify(t)
	d := startDaemon(t, cfg, "NOTIFY_SOCKET="+n.path, "WATCHDOG_USEC=2000000", "WATCHDOG_PID=")
	n.waitFor(t, "READY=1", 60*time.Second)
	n.waitFor(t, "WATCHDOG=1", 30*time.Second)

	out, code := ctl(t, sock, "status")
	if code != 0 || !strings.Contains(out, "ST-TEST-01") || !strings.Contains(out, "running") {
		t.Fatalf("status (exit %d):\n%s", code, out)
	}
	out, code = ctl(t, sock, "--json", "version")
	if code != 0 || !strings.Contains(out, `"daemon"`) {
		t.Fatalf("version --json (exit %d):\n%s", code, out)
	}

	// A second instance on the same storage is refused, clearly.
	second := exec.Command(binPath("printstationd"), "run", "--config", cfg)
	msg, err := second.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(string(msg), "already running") {
		t.Fatalf("second instance: err=%v output:\n%s", err, msg)
	}

	// SIGHUP applies a safe change and says what needs a restart.
	os.WriteFile(cfg, []byte(strings.Replace(mustRead(t, cfg), `level = "info"`, `level = "debug"`, 1)+"\n[queue]\nprefetch_jobs = 50\n"), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	n.waitFor(t, "RELOADING=1", 10*time.Second)
	waitLog(t, d, "configuration reloaded", 10*time.Second)
	if !strings.Contains(d.stderr.String(), "prefetch_jobs: 200 → 50") {
		t.Fatalf("reload did not log the change:\n%s", d.stderr.String())
	}

	// SIGTERM: STOPPING, then a clean exit within the bound.
	start := time.Now()
	d.cmd.Process.Signal(syscall.SIGTERM)
	n.waitFor(t, "STOPPING=1", 10*time.Second)
	select {
	case <-d.done:
		if d.err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v\n%s", d.err, d.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop within 30 s of SIGTERM")
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatal("socket left behind after a clean stop")
	}
	// Personal data never logged: the log is JSON, scan its keys.
	checkLogHasNoPersonalKeys(t, d.stderr.String())
	// The reload is in the people log, under the checkpoints.
	out, code = ctl(t, sock, "audit", "export", "--db", filepath.Join(dir, "state", "station.db"), "--format", "csv", "--log", "people")
	if code != 0 || !strings.Contains(out, "config_reloaded,root,,,host,") || !strings.Contains(out, "prefetch_jobs") {
		t.Errorf("people log after the reload (exit %d):\n%s", code, out)
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitLog(t *testing.T, p *proc, s string, within time.Duration) {
	t.Helper()
	end := time.Now().Add(within)
	for time.Now().Before(end) {
		if strings.Contains(p.stderr.String(), s) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("log never said %q:\n%s", s, p.stderr.String())
}

var personalKeyRe = regexp.MustCompile(`"(nik|nama|name|photo|signature|alamat|fields|uid)":`)

func checkLogHasNoPersonalKeys(t *testing.T, log string) {
	t.Helper()
	if m := personalKeyRe.FindString(log); m != "" {
		t.Fatalf("log carries a personal-data field %s", m)
	}
}

func TestCtlWithoutDaemon(t *testing.T) {
	out, code := ctl(t, filepath.Join(t.TempDir(), "nope.sock"), "status")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// Exit 3 is "daemon not running" (docs/CLI.md), apart from a refusal (1).
	if code != 3 || len(lines) != 1 || !strings.Contains(out, "not running") {
		t.Fatalf("exit %d, want 3 and one clear line:\n%s", code, out)
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, "")
	out, err := exec.Command(binPath("printstationd"), "check-config", good).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok: ") || strings.Count(string(out), "\n") != 1 {
		t.Fatalf("good config: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("station_id = \"S\"\nbogus = 1\n[web]\nlisten = \"nowhere\"\n[[central.issuer_key]]\nid = \"k\"\nfile = \"issuer.pub\"\n"), 0o644)
	out, err = exec.Command(binPath("printstationd"), "check-config", bad).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("bad config exit: %v", err)
	}
	want := bad + ":2: unknown key \"bogus\""
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), bad+":4: web.listen") {
		t.Fatalf("bad config output lacks file:line problems:\n%s", out)
	}
}

func TestUnitFile(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze not installed (scripts/deps.sh installs systemd)")
	}
	unit := mustRead(t, filepath.Join(repoRoot(t), "deploy/systemd/printstationd.service"))
	// Verify the unit as shipped, with ExecStart pointing at the binary
	// this test built (the packaged path does not exist here).
	dir := t.TempDir()
	p := filepath.Join(dir, "printstationd.service")
	os.WriteFile(p, []byte(strings.ReplaceAll(unit, "/usr/bin/printstationd", binPath("printstationd"))), 0o644)
	out, err := exec.Command("systemd-analyze", "verify", p).CombinedOutput()
	if err != nil || strings.Contains(string(out), "printstationd.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, _ = exec.Command("systemd-analyze", "security", "--offline=true", p).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for printstationd.service: ([0-9.]+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no exposure score in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(m[1], 64)
	t.Logf("systemd-analyze security exposure: %.1f", score)
	if score > 2.5 {
		t.Fatalf("exposure %.1f is above the bound 2.5", score)
	}
	if !strings.Contains(unit, "Type=notify") || !strings.Contains(unit, "WatchdogSec=") {
		t.Fatal("unit is not Type=notify with a watchdog")
	}
}
