package diagcmd_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"printstation/chip/diagcmd"
	"printstation/sim/chip/vicc"
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int { return vicc.RunTests(m, "diag", nil) }

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := diagcmd.Main(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCardAndWriteTest(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "card.json")
	c, err := vicc.Start(t.Context(), vicc.Options{UID: []byte{0x04, 0xCA, 0xFE, 0x01}, DumpPath: dump})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove() })

	code, out, stderr := run(t, "--reader", c.Reader(), "--write-test", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	var rep diagcmd.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Selected != c.Reader() || rep.Card == nil || rep.Card.UID != "04CAFE01" || !strings.HasPrefix(rep.Card.ATR, "3b") {
		t.Errorf("report %+v card %+v", rep, rep.Card)
	}
	if rep.Card.RTTMinMS <= 0 || rep.Card.RTTMaxMS < rep.Card.RTTMedianMS {
		t.Errorf("round trip figures %+v", rep.Card)
	}
	if rep.WriteTest == nil || !rep.WriteTest.OK || rep.WriteTest.Bytes != 1024 {
		t.Errorf("write test %+v", rep.WriteTest)
	}
	var listed bool
	for _, r := range rep.Readers {
		if r.Name == c.Reader() && r.State == "card present" {
			listed = true
		}
	}
	if !listed {
		t.Errorf("readers %+v do not show the card", rep.Readers)
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	d, err := vicc.ReadDump(dump)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := d.File(diagcmd.ScratchFID); !ok || len(got) != 1024 {
		t.Errorf("scratch file on the card: %d bytes, ok=%v", len(got), ok)
	}
}

func TestTextOutput(t *testing.T) {
	c, err := vicc.Start(t.Context(), vicc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove() })
	code, out, _ := run(t, "--reader", "re:PCD 00 00$")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"Virtual PCD 00 00", "card present", "UID:             uid unknown", "APDU round trip"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestNoCard(t *testing.T) {
	code, out, _ := run(t, "--reader", "Virtual PCD 00 01", "--timeout", "300ms")
	if code != 1 || !strings.Contains(out, "no card") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

func TestUnknownReader(t *testing.T) {
	code, out, _ := run(t, "--reader", "Evolis*")
	if code != 1 || !strings.Contains(out, "no reader matches") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

func TestUsage(t *testing.T) {
	if code, _, stderr := run(t, "--bogus"); code != 2 || !strings.Contains(stderr, "usage:") {
		t.Errorf("bad flag: exit %d, %s", code, stderr)
	}
	if code, _, stderr := run(t, "extra"); code != 2 || !strings.Contains(stderr, "unexpected argument") {
		t.Errorf("extra arg: exit %d, %s", code, stderr)
	}
	if code, _, stderr := run(t, "--help"); code != 0 || !strings.Contains(stderr, "--write-test") {
		t.Errorf("help: exit %d, %s", code, stderr)
	}
}
