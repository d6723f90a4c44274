package ctlcmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"printstation/accounts"
	"printstation/config"
	"printstation/station"
	"printstation/station/ctlcmd"
)

// oneDocument fails unless out is exactly one JSON document.
func oneDocument(t *testing.T, args []string, out string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("printstationctl %s: stdout is not JSON (%v):\n%s", strings.Join(args, " "), err, out)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("printstationctl %s: stdout holds more than one JSON document:\n%s", strings.Join(args, " "), out)
	}
	m, _ := v.(map[string]any)
	return m
}

func ctl(t *testing.T, sock string, args ...string) (map[string]any, int) {
	t.Helper()
	var out, errs bytes.Buffer
	// Every command runs as the account "tester", its secret on stdin.
	ctlcmd.Stdin = strings.NewReader("tester-secret\n")
	full := append([]string{"--socket", sock, "--user", "tester", "--json"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := ctlcmd.Main(ctx, full, &out, &errs)
	doc := oneDocument(t, args, out.String())
	if code != 0 && (doc == nil || doc["error"] == nil) {
		t.Fatalf("printstationctl %s failed (exit %d) without an error document:\n%s\nstderr: %s", strings.Join(args, " "), code, out.String(), errs.String())
	}
	return doc, code
}

// TestJSONOutputOfEveryCommand runs the daemon's real engine and local API
// (a printer that does not answer, no centre) and every printstationctl
// command against it with --json: stdout is one JSON document each time,
// failures included, and the exit codes are the documented ones.
func TestJSONOutputOfEveryCommand(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "issuer.pub"), []byte("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n"), 0o644)
	dead, _ := net.Listen("tcp", "127.0.0.1:0") // a printer address nobody answers on
	deadAddr := dead.Addr().String()
	dead.Close()
	toml := fmt.Sprintf("station_id = \"ST-JSON-01\"\nstorage_dir = %q\nruntime_dir = %q\n[[central.issuer_key]]\nid = \"k1\"\nfile = \"issuer.pub\"\n[web]\nlisten = \"\"\n[metrics]\nlisten = \"\"\n[[printer]]\nname = \"p1\"\ntransport = \"tcp\"\naddress = %q\n",
		filepath.Join(dir, "state"), filepath.Join(dir, "run"), deadAddr)
	cfg, err := config.Parse(filepath.Join(dir, "station.toml"), []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "run", "printstationd.sock")

	// Before the daemon runs: an error document and exit 3.
	if doc, code := ctl(t, sock, "status"); code != 3 || !strings.Contains(fmt.Sprint(doc["error"]), "not running") {
		t.Fatalf("status without a daemon: exit %d, %v", code, doc)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	var daemon *station.Daemon
	go func() {
		done <- station.Run(ctx, station.Options{Config: cfg, Log: zerolog.Nop(), Ready: func(d *station.Daemon) { daemon = d; close(ready) }})
	}()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("daemon not ready within 60 s")
	}

	if err := daemon.Accounts().Add(ctx, accounts.Root, "tester", []accounts.Role{accounts.Operator}, []byte("tester-secret")); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "new-data.key")
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"status"}, 0},
		{[]string{"version"}, 0},
		{[]string{"batch", "list"}, 0},
		{[]string{"batch", "start", "NO-SUCH-BATCH"}, 1},
		{[]string{"attention", "list"}, 0},
		{[]string{"attention", "retry", "NO-SUCH-JOB"}, 1},
		{[]string{"printer", "resume", "p1"}, 0},
		{[]string{"printer", "health", "p1"}, 0},
		{[]string{"printer", "health", "NO-SUCH-PRINTER"}, 1},
		{[]string{"printer", "guide"}, 0},
		{[]string{"printer", "guide", "cleaning_due"}, 0},
		{[]string{"printer", "guide", "no_such_code"}, 1},
		{[]string{"stock", "show"}, 0},
		{[]string{"stock", "receive", "--quantity", "100", "--ref", "DO-1"}, 0},
		{[]string{"stock", "load", "--printer", "p1", "--quantity", "40"}, 0},
		{[]string{"stock", "unload", "--printer", "p1", "--quantity", "5"}, 0},
		{[]string{"stock", "load", "--printer", "p1", "--quantity", "0"}, 1},
		{[]string{"outbox"}, 0},
		{[]string{"outbox", "--limit", "x"}, 2},
		{[]string{"status", "--watch"}, 2},
		{[]string{"datakey", "create", key}, 0},
		{[]string{"datakey", "create", key}, 1}, // exists
		{[]string{"card", "render", "--out", filepath.Join(dir, "card.png")}, 0},
		{[]string{"card", "check", "-template", filepath.Join(dir, "missing.json")}, 1},
		{[]string{"audit", "verify", "--db", filepath.Join(dir, "missing.db")}, 2},
		{[]string{"no-such-command"}, 2},
	}
	for _, c := range cases {
		doc, code := ctl(t, sock, c.args...)
		if code != c.code {
			t.Errorf("printstationctl --json %s: exit %d, want %d: %v", strings.Join(c.args, " "), code, c.code, doc)
		}
	}
	doc, _ := ctl(t, sock, "stock", "show")
	if doc["storage"] != float64(65) {
		t.Errorf("stock show --json after receive 100, load 40, unload 5: %v", doc)
	}
	doc, _ = ctl(t, sock, "outbox")
	if _, ok := doc["pending"]; !ok {
		t.Errorf("outbox --json has no pending count: %v", doc)
	}
}
