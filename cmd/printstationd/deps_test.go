package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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
	case strings.HasPrefix(pkg, "github.com/gen2brain/webp"), strings.HasPrefix(pkg, "github.com/tetratelabs/wazero"), strings.HasPrefix(pkg, "github.com/ebitengine/purego"):
		return "the reference centre's WebP encoder (the station only decodes, with golang.org/x/image/webp)"
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
	// the simulators on purpose, and the centre simulator the encoder.
	found := false
	for _, p := range deps(t, "printstation-demo") {
		if forbidden("printstation-demo", p) != "" {
			found = true
		}
	}
	if !found {
		t.Error("the dependency check found no simulator in printstation-demo: the check is broken")
	}
	found = false
	for _, p := range deps(t, "centralsim") {
		if strings.HasPrefix(p, "github.com/gen2brain/webp") && forbidden("centralsim", p) != "" {
			found = true
		}
	}
	if !found {
		t.Error("the dependency check does not see the WebP encoder in centralsim: the check is broken")
	}
	// The daemon decodes WebP job images.
	if !slices.Contains(deps(t, "printstationd"), "golang.org/x/image/webp") {
		t.Error("printstationd does not link golang.org/x/image/webp: WebP job images would not decode")
	}
}
