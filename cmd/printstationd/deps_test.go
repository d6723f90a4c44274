package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// forbidden names why a package must not be linked into a production
// binary, or "" when it may be.
func forbidden(cmd, pkg string) string {
	switch {
	case strings.HasPrefix(pkg, "printstation/sim/"):
		return "a simulator"
	case strings.HasSuffix(pkg, "test"):
		return "test code"
	case pkg == "printstation/demo":
		return "the demo"
	case cmd == "printstationctl" && (pkg == "printstation/station" || pkg == "printstation/web"):
		return "the engine (the CLI needs only station/localapi)"
	}
	return ""
}

// deps lists the non-standard packages cmd links.
func deps(t *testing.T, cmd string) []string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	c := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/"+cmd)
	c.Dir = root
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/%s: %v\n%s", cmd, err, out)
	}
	return strings.Fields(string(out))
}

// TestProductionBinariesLinkNoTestCode keeps simulators, test helpers and
// the demo out of what a station runs, and the engine out of the CLI.
func TestProductionBinariesLinkNoTestCode(t *testing.T) {
	for _, cmd := range []string{"printstationd", "printstationctl"} {
		for _, p := range deps(t, cmd) {
			if why := forbidden(cmd, p); why != "" {
				t.Errorf("%s links %s: %s", cmd, p, why)
			}
		}
	}
	// The check itself must see what it looks for: the demo command links
	// the simulators on purpose.
	found := false
	for _, p := range deps(t, "printstation-demo") {
		if forbidden("printstation-demo", p) != "" {
			found = true
		}
	}
	if !found {
		t.Error("the dependency check found no simulator in printstation-demo: the check is broken")
	}
}
