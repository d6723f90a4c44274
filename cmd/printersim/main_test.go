package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"printstation/printer"
	_ "printstation/printer/all"
)

// start runs the printersim binary and returns its address.
func start(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0", "--speed", "0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("printersim did not start: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "printersim listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	return cmd, "tcp://" + addr
}

// The simulator as its own process: killed mid-job, restarted, it still
// knows how many blanks it took, and its journal says what happened.
func TestKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "printersim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out := t.TempDir()
	cmd, addr := start(t, bin, "--out", out, "--feeder", "5", "--serial", "S-77", "--fault", "2:contactless:jam")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := printer.Open(ctx, "evolis", addr, printer.Options{Name: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return d.Feed(ctx) },
		func() error { return d.Eject(ctx) },
		func() error { return d.Feed(ctx) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.MoveTo(ctx, printer.StationContactless); !errors.Is(err, printer.ErrJam) {
		t.Fatalf("scripted jam: %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	// The driver notices, and after the restart reconnects by itself.
	_, addr2 := start(t, bin, "--out", out, "--serial", "S-77")
	d.Close()
	d, err = printer.Open(ctx, "evolis", addr2, printer.Options{Name: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := d.Counters(ctx)
	if err != nil || c.CardsInserted != 2 {
		t.Fatalf("counter after restart: %d, %v; want 2", c.CardsInserted, err)
	}
	// The jammed card is still in the printer after the power cycle.
	st, err := d.Status(ctx)
	if err != nil || st.Card != printer.PositionPrintHead {
		t.Errorf("status after restart: %+v, %v; want the jammed card at the print head", st, err)
	}
	if err := d.Feed(ctx); printer.KindOf(err) != printer.KindRefused {
		t.Errorf("feed over the jammed card: %v", err)
	}
	if err := d.Reject(ctx); !errors.Is(err, printer.ErrJam) {
		t.Errorf("reject of the jammed card: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(out, "journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var evs []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct {
			Card    int    `json:"card"`
			Event   string `json:"event"`
			Counter int64  `json:"counter"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("journal line %q: %v", line, err)
		}
		evs = append(evs, e.Event)
	}
	if got := strings.Join(evs, " "); got != "blank_taken card_out blank_taken" {
		t.Errorf("journal after the crash: %s", got)
	}
	if _, err := os.Stat(filepath.Join(out, "state.json")); err != nil {
		t.Error(err)
	}
}

func TestBadFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "printersim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--fault", "1:print:fire"}, {"--reply-end", "tab"}, {"--faults", "/nonexistent"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: %v %s", args, err, out)
		}
	}
}

// The operator's hands over the admin interface: a jammed card is taken out
// with the cover open, the printer then reports none inside, and the
// journal says card_removed.
func TestAdminHandActions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "printersim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out := t.TempDir()
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--speed", "0", "--out", out, "--fault", "1:contactless:jam", "--admin", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	br := bufio.NewReader(stdout)
	l1, _ := br.ReadString('\n')
	l2, _ := br.ReadString('\n')
	addr, ok1 := strings.CutPrefix(strings.TrimSpace(l1), "printersim listening on ")
	admin, ok2 := strings.CutPrefix(strings.TrimSpace(l2), "printersim admin on ")
	if !ok1 || !ok2 {
		t.Fatalf("printersim said %q %q", l1, l2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := printer.Open(ctx, "evolis", "tcp://"+addr, printer.Options{Name: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Feed(ctx)
	if err := d.MoveTo(ctx, printer.StationContactless); !errors.Is(err, printer.ErrJam) {
		t.Fatalf("scripted jam: %v", err)
	}
	post := func(path string) (int, string) {
		resp, err := http.Post("http://"+admin+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("/take"); code != http.StatusConflict || !strings.Contains(body, "cover") {
		t.Fatalf("take with the cover closed: %d %s", code, body)
	}
	post("/cover/open")
	if code, body := post("/take"); code != 200 || !strings.Contains(body, `"card":1`) {
		t.Fatalf("take: %d %s", code, body)
	}
	post("/cover/close")
	st, err := d.Status(ctx)
	if err != nil || st.Card != printer.PositionNone {
		t.Fatalf("status after the card was taken out: %+v %v", st, err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "journal.jsonl"))
	if !strings.Contains(string(b), `"card_removed"`) {
		t.Fatalf("journal has no card_removed:\n%s", b)
	}
}
