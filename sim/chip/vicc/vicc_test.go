package vicc_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"printstation/sim/chip/vicc"
)

func TestMain(m *testing.M) {
	if os.Getenv("VICC_LOCK_HELPER") != "" {
		// Child process of TestTestbedLockIsExclusive: try to take the
		// test bed while the parent holds it.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := vicc.Start(ctx, vicc.Options{})
		fmt.Println("start:", err)
		os.Exit(0)
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int { return vicc.RunTests(m, "vicc", nil) }

func transmit(t *testing.T, reader string, apdus ...[]byte) [][]byte {
	t.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	card, err := ctx.Connect(reader, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	defer card.Disconnect(scard.LeaveCard)
	var out [][]byte
	for _, a := range apdus {
		r, err := card.Transmit(a)
		if err != nil {
			t.Fatalf("transmit %x: %v", a, err)
		}
		out = append(out, r)
	}
	return out
}

func TestCardLifecycle(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "card.json")
	uid := []byte{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}
	c, err := vicc.Start(t.Context(), vicc.Options{UID: uid, DumpPath: dump})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove() })
	if c.Reader() != "Virtual PCD 00 00" {
		t.Errorf("reader %q", c.Reader())
	}
	r := transmit(t, c.Reader(),
		[]byte{0xFF, 0xCA, 0, 0, 0},
		[]byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00},
		[]byte{0x00, 0xE0, 0, 0, 0x0D, 0x62, 0x0B, 0x82, 0x01, 0x01, 0x83, 0x02, 0x01, 0x01, 0x80, 0x02, 0x00, 0x03},
		[]byte{0x00, 0xD6, 0, 0, 0x03, 0xAA, 0xBB, 0xCC}, // case 3: crashed unpatched vicc
		[]byte{0x00, 0xB0, 0, 0, 0x03},
	)
	if got := fmt.Sprintf("%X", r[0]); got != "041122334455669000" {
		t.Errorf("UID answer %s", got)
	}
	if got := fmt.Sprintf("%X", r[4]); got != "AABBCC9000" {
		t.Errorf("read back %s", got)
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	d, err := vicc.ReadDump(dump)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := d.File(0x0101)
	if !ok || fmt.Sprintf("%X", got) != "AABBCC" || d.UID != "04112233445566" || d.Writes != 1 || d.Dropped {
		t.Errorf("dump %+v", d)
	}
	// The reader is empty again: a new card can go in.
	c2, err := vicc.Start(t.Context(), vicc.Options{})
	if err != nil {
		t.Fatalf("second card: %v", err)
	}
	if r := transmit(t, c2.Reader(), []byte{0xFF, 0xCA, 0, 0, 0}); fmt.Sprintf("%X", r[0]) != "6A81" {
		t.Errorf("card without UID answered %X, want 6A81", r[0])
	}
	if err := c2.Remove(); err != nil {
		t.Fatal(err)
	}
}

func TestDropMidWrite(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "card.json")
	c, err := vicc.Start(t.Context(), vicc.Options{DumpPath: dump, DropAfterWrites: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove() })
	ctx, _ := scard.EstablishContext()
	defer ctx.Release()
	card, err := ctx.Connect(c.Reader(), scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range [][]byte{
		{0x00, 0xE0, 0, 0, 0x0D, 0x62, 0x0B, 0x82, 0x01, 0x01, 0x83, 0x02, 0x01, 0x01, 0x80, 0x02, 0x00, 0x04},
		{0x00, 0xD6, 0, 0, 0x02, 0xAA, 0xBB},
	} {
		if _, err := card.Transmit(a); err != nil {
			t.Fatal(err)
		}
	}
	// vpcd answers a command whose card vanished with an empty response.
	if r, err := card.Transmit([]byte{0x00, 0xD6, 0, 2, 0x02, 0xCC, 0xDD}); err == nil && len(r) > 0 {
		t.Fatalf("second write answered %X; the card should have left the field", r)
	}
	select {
	case <-c.Gone():
	case <-time.After(10 * time.Second):
		t.Fatal("vicc still running after the drop")
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	d, err := vicc.ReadDump(dump)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := d.File(0x0101)
	if !d.Dropped || d.Writes != 1 || fmt.Sprintf("%X", got) != "AABB0000" {
		t.Errorf("dump %+v", d)
	}
}

func TestNoViccLeftBehind(t *testing.T) {
	c, err := vicc.Start(t.Context(), vicc.Options{Port: vicc.Port1})
	if err != nil {
		t.Fatal(err)
	}
	if c.Reader() != "Virtual PCD 00 01" {
		t.Errorf("reader %q", c.Reader())
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command("pgrep", "-f", "printstation-vicc-.*--port 35964").Output(); len(out) > 0 {
		t.Errorf("vicc still running after Remove: %s", out)
	}
	if err := c.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := vicc.Start(t.Context(), vicc.Options{Port: 80}); err == nil {
		t.Error("port 80 accepted")
	}
	if _, err := vicc.Start(t.Context(), vicc.Options{UID: make([]byte, 17)}); err == nil {
		t.Error("17-byte UID accepted")
	}
}

func TestTestbedLockIsExclusive(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, vicc.HeldEnv+"=") { // not a child of ours: an unrelated process
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "VICC_LOCK_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "held by another test process") {
		t.Errorf("another process started a card while this one holds the test bed: %s", out)
	}
}

func TestChildProcessesShareTheLock(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VICC_LOCK_HELPER=1") // inherits HeldEnv
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Contains(string(out), "held by another test process") {
		t.Errorf("a child process (printer simulator) could not use its parent's test bed: %s", out)
	}
}
