package diagcmd_test

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"printstation/printer/ipp"
	"printstation/printer/ipp/ipptest"
)

// diag printer on a real IPP printer: the queue's state, reasons and
// markers, a test card and a calibration print through the queue, and the
// refusal of what a queue cannot do.
func TestDiagIPPQueue(t *testing.T) {
	eve := ipptest.StartEve(t, ipptest.EveOptions{})
	eve.SetAttr("ATTR: marker-names=Ribbon marker-types=ribbon-wax marker-colors=#000000 marker-levels=64\n")

	code, out, errs := run(t, "--printer", eve.URI, "test-card")
	if code != 0 || !strings.Contains(out, "test card printed") {
		t.Fatalf("test-card: %d %q %q", code, out, errs)
	}
	if n := len(eve.Documents()); n != 1 {
		t.Fatalf("printer received %d documents for the test card", n)
	}
	code, out, errs = run(t, "--printer", eve.URI, "status")
	for _, w := range []string{"IDLE", "reasons", "marker Ribbon (ribbon-wax)", "64%", "image/png"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Fatalf("status lacks %q: %d %q %q", w, code, out, errs)
		}
	}

	front := filepath.Join(t.TempDir(), "front.png")
	f, _ := os.Create(front)
	png.Encode(f, ipp.TestImage())
	f.Close()
	// The cover opens while this card prints (ippeveprinter raises the
	// reason with the job): the driver may see it before the job ends
	// (seen in CI under load) and then says so; it never reports the card
	// printed without the fault.
	eve.SetState("+cover-open")
	if code, out, errs := run(t, "--printer", eve.URI, "print", front); !(code == 0 && strings.Contains(out, "1 side(s) through the queue")) &&
		!(code == 1 && strings.Contains(errs, "cover open") && strings.Contains(errs, "close the printer cover")) {
		t.Fatalf("print: %d %q %q", code, out, errs)
	}
	code, out, _ = run(t, "--printer", eve.URI, "status")
	if code != 0 || !strings.Contains(out, "NOT READY: cover-open") {
		t.Fatalf("status with the cover open: %q", out)
	}
	code, _, errs = run(t, "--printer", eve.URI, "test-card")
	if code != 1 || !strings.Contains(errs, "cover open") || !strings.Contains(errs, "close the printer cover") {
		t.Fatalf("test-card with the cover open: %d %q", code, errs)
	}
	if code, _, errs := run(t, "--printer", eve.URI, "clean"); code != 1 || !strings.Contains(errs, "ipp driver has no clean") {
		t.Fatalf("clean on a queue: %d %q", code, errs)
	}
}
