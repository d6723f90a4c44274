package station

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSocketTakesTheStaffGroup: the packaged /run/printstation is setgid
// printstation-staff (tmpfiles.d), so the socket the daemon creates there
// belongs to that group with mode 0660: staff may use printstationctl, the
// service needs no membership, everyone else cannot connect.
func TestSocketTakesTheStaffGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the folder another group")
	}
	const staffGID = 54321
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 0, staffGID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	ln, err := listenUnix(SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != staffGID {
		t.Errorf("socket group %d, want the folder's %d", gid, staffGID)
	}
	if perm := fi.Mode().Perm(); perm != 0o660 {
		t.Errorf("socket mode %04o, want 0660", perm)
	}
}
