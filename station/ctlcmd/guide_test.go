package ctlcmd

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"printstation/station/localapi"
)

// status says, for a stopped printer, what the page says and the actions
// the guidance table allows; printer guide prints the page's Indonesian.
func TestStatusAndGuideUseTheGuidanceTable(t *testing.T) {
	t.Setenv("LANG", "C.UTF-8")
	t.Setenv("PRINTSTATION_LANG", "")
	var b bytes.Buffer
	printStatus(&b, localapi.StatusReport{Printers: []localapi.PrinterState{
		{Name: "p1", State: "paused", Code: "jam"},
		{Name: "p2", State: "printing", Job: "J-1"},
	}}, false)
	out := b.String()
	if !strings.Contains(out, "p1: A card is stuck. Open the printer cover") || !strings.Contains(out, "allowed: resume, probe") {
		t.Errorf("status of a jammed printer:\n%s", out)
	}
	if strings.Contains(out, "p2: ") {
		t.Errorf("status says what to do about a printing printer:\n%s", out)
	}
	var o, e bytes.Buffer
	if code := Main(context.Background(), []string{"printer", "guide", "--lang", "id", "cleaning_due"}, &o, &e); code != 0 {
		t.Fatalf("printer guide: exit %d %s", code, e.String())
	}
	if !strings.Contains(o.String(), "Printer berhenti untuk pembersihan") || !strings.Contains(o.String(), "allowed: clean, record-cleaning") || strings.Contains(o.String(), "resume") {
		t.Errorf("printer guide cleaning_due:\n%s", o.String())
	}
}

// A language the catalogs do not have is refused, naming the flag, not
// answered in another language.
func TestGuideRefusesAnUnknownLanguage(t *testing.T) {
	for _, args := range [][]string{{"printer", "guide", "--lang", "fr"}, {"printer", "health", "--lang", "ID ", "p1"}} {
		var o, e bytes.Buffer
		if code := Main(context.Background(), args, &o, &e); code == 0 || !strings.Contains(e.String(), "--lang") || o.Len() != 0 {
			t.Errorf("%v: exit %d, out %q, err %q", args, code, o.String(), e.String())
		}
	}
}
