package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Two Unix users on the station computer, each mapped to an account, run
// the real printstationctl against the real daemon and act as two people:
// the kernel tells the daemon who calls (SO_PEERCRED), no name is typed.
// The uids need no passwd entry; group 0 stands for the print-room group
// the socket is open to.
func TestCLIFromTwoUnixUsersActsAsTwoAccounts(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run printstationctl as two other uids")
	}
	s := newE2E(t, e2eOpts{jobs: 1, batch: 1, printers: 1})
	s.startDaemon()
	const uidAni, uidSari = 61001, 61002
	s.ctlAsRoot("user", "map-uid", "ani", "61001")
	s.ctlAsRoot("user", "map-uid", "sari", "61002")
	// The other uids must reach the binary and the socket through group 0.
	for _, d := range []string{bin, filepath.Dir(s.sock)} {
		for p := d; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
			os.Chmod(p, 0o750)
		}
	}
	as := func(uid uint32, args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binPath("printstationctl"), append([]string{"--socket", s.sock}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: 0}}
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	waitFor(t, 120*time.Second, func() bool { return len(s.status().Batches) > 0 }, "a batch synced from centralsim")
	batch := s.status().Batches[0].ID
	if out, code := as(uidAni, "stock", "receive", "--quantity", "10", "--ref", "DO-1"); code != 0 {
		t.Fatalf("ani receives: exit %d\n%s", code, out)
	}
	// An operator may not cancel; the supervisor may, with a reason.
	if out, code := as(uidAni, "batch", "cancel", batch, "--reason", "test"); code == 0 || !strings.Contains(out, "supervisor") {
		t.Fatalf("ani (operator) cancelled: exit %d\n%s", code, out)
	}
	out, code := as(uidSari, "batch", "cancel", batch, "--reason", "wrong district")
	if code != 0 || !strings.Contains(out, "done by sari") {
		t.Fatalf("sari cancels: exit %d\n%s", code, out)
	}
	// A third uid with no account is told how to get one.
	if out, code := as(61003, "stock", "show"); code == 0 || !strings.Contains(out, "uid 61003") {
		t.Fatalf("unmapped uid: exit %d\n%s", code, out)
	}
	db := filepath.Join(s.dir, "state", "station.db")
	out, _ = ctl(t, s.sock, "audit", "export", "--db", db, "--format", "csv")
	if !strings.Contains(out, "received,ani,") {
		t.Errorf("the receipt is not ani's:\n%s", out)
	}
	out, _ = ctl(t, s.sock, "audit", "export", "--db", db, "--format", "csv", "--log", "people")
	if !strings.Contains(out, "action,sari,batch_cancel,"+batch+",socket") || !strings.Contains(out, "wrong district") {
		t.Errorf("the cancel is not sari's in the people log:\n%s", out)
	}
}

func (s *e2e) ctlAsRoot(args ...string) string {
	s.t.Helper()
	out, code := ctl(s.t, s.sock, args...)
	if code != 0 {
		s.t.Fatalf("printstationctl %v (exit %d):\n%s", args, code, out)
	}
	return out
}
