package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// printstation-demo --json: stdout is the one summary document (so jq
// reads it); the progress lines go to stderr.
func TestDemoJSONIsOneDocument(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	code := Main(ctx, []string{"--json", "--jobs", "2", "--printers", "1", "--speed", "1000", "--out", t.TempDir(), "--exit-when-done", "--chip", "soft", "--web", ""}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs.String())
	}
	dec := json.NewDecoder(&out)
	var sum Summary
	if err := dec.Decode(&sum); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("more than one document on stdout:\n%s", out.String())
	}
	if sum.Printed != 2 || !bytes.Contains(errs.Bytes(), []byte("printstation demo: station")) {
		t.Fatalf("summary %+v; progress on stderr:\n%s", sum, errs.String())
	}
}
