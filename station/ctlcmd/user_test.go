package ctlcmd

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Secrets come one a line from stdin when it is not a terminal: the
// actor's first, then the witness's.
func TestSecretsReadFromStdinLines(t *testing.T) {
	r := newSecretReader(strings.NewReader("first-secret\r\nsecond-secret\n"), &bytes.Buffer{})
	for _, want := range []string{"first-secret", "second-secret"} {
		got, err := r.read("secret: ")
		if err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	if _, err := r.read("secret for the witness sari: "); err == nil || !strings.Contains(err.Error(), "no secret on stdin") {
		t.Fatalf("stdin ran out: %v", err)
	}
}

// A dual-control stock operation names one witness; the old two-name
// form is refused before anything is sent.
func TestDualControlNeedsOneWitness(t *testing.T) {
	var out, errb bytes.Buffer
	Stdin = strings.NewReader("")
	code := Main(context.Background(), []string{"--socket", t.TempDir() + "/none.sock", "stock", "destroy", "--quantity", "2", "--ref", "BA-1",
		"--witness", "ani", "--witness", "budi"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "name the second person once with --witness NAME") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	code = Main(context.Background(), []string{"--socket", t.TempDir() + "/none.sock", "user", "add", "--role", "operator", "ani"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "no secret on stdin") {
		t.Fatalf("user add without a secret: exit %d: %s", code, errb.String())
	}
}
