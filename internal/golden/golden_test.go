package golden

import (
	"os"
	"path/filepath"
	"testing"
)

type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Helper()               {}

func TestCheck(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.golden")
	os.WriteFile(p, []byte("same\n"), 0o644)
	r := &recorder{TB: t}
	Check(r, p, []byte("same\n"))
	if r.failed {
		t.Fatal("equal output reported as different")
	}
	Check(r, p, []byte("other\n"))
	if !r.failed {
		t.Fatal("different output passed")
	}
}
