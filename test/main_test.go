// Package test runs the real binaries as separate processes against the
// simulators, real pcscd with virtual cards, and Chromium.
package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// bin holds the binaries built once for all tests in this package.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "printstation-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	// Built with the failpoints tag: the crash tests stop the daemon at
	// named points (internal/failpoint). Without PRINTSTATION_FAILPOINTS
	// the points do nothing; production builds carry none.
	cmd := exec.Command("go", "build", "-tags", "failpoints", "-o", dir+"/", "./cmd/...")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries:", err)
		os.Exit(1)
	}
	bin = dir
	release := lockTestbed()
	code := m.Run()
	release()
	os.RemoveAll(dir)
	os.Exit(code)
}

func binPath(name string) string { return filepath.Join(bin, name) }

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}
