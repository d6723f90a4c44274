// Package golden compares test output with golden files under testdata/,
// and rewrites them when the tests run with -update (after a person has
// read the change). Test packages share it so every golden file behaves
// the same way.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Update reports whether the run was asked to rewrite golden files (for
// goldens compared another way, such as images within a tolerance).
func Update() bool { return *update }

// Check fails t when got differs from the golden file at path, showing what
// came out; with -update it writes got to path first.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it; read it before committing)", err)
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
