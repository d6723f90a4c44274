//go:build failpoints

package failpoint

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The test binary runs itself as the "daemon": with a point set to kill it
// dies there by SIGKILL; set to hold it waits there until released.
func TestMain(m *testing.M) {
	if os.Getenv("FAILPOINT_CHILD") != "" {
		Hit(AfterIntent)
		Hit(AfterFeed)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(t *testing.T, spec string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", EnvVar+"="+spec)
	return cmd
}

func TestKill(t *testing.T) {
	err := child(t, AfterFeed+"=kill").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Fatalf("child with a kill point: %v, want killed by a signal", err)
	}
	if err := child(t, "").Run(); err != nil {
		t.Fatalf("child without points: %v", err)
	}
}

func TestHold(t *testing.T) {
	dir := t.TempDir()
	cmd := child(t, AfterIntent+"=hold:"+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		if _, err := os.Stat(filepath.Join(dir, AfterIntent+".hit")); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("child went past the hold point: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	os.WriteFile(filepath.Join(dir, AfterIntent+".go"), nil, 0o644)
	if err := <-done; err != nil {
		t.Fatalf("child after release: %v", err)
	}
}
