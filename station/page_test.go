package station

import (
	"bytes"
	"context"
	"image/png"
	"strings"
	"testing"

	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/printer"
	"printstation/sim/central"
)

// The page's questions about a job, answered from the engine: found by
// NIK, job id and name; its whole story with printers and the spoil
// reason; its face drawn in memory; the jammed printer's code.
func TestFindStoryPreview(t *testing.T) {
	r := newRig(t, "p1", "p2")
	r.fakes["p1"].FailOn("print", 1, printer.KindJam)
	e, ids := r.batch(4)
	r.runUntil(r.allIn(ids, jobqueue.Printed))
	ctx := context.Background()

	_, spoiled, _ := r.ledgerByJob()
	var jammed string
	for _, id := range ids {
		if spoiled[id] == 1 {
			jammed = id
		}
	}
	if jammed == "" {
		t.Fatal("no job had the jammed card")
	}
	n := 0
	for i, id := range ids {
		if id == jammed {
			n = i + 1 // addJobs seeds job i with i+1
		}
	}
	per := central.NewPerson(uint64(n), nil)

	by, found, err := e.FindJobs(ctx, per.Fields["nik"][:8]+" "+per.Fields["nik"][8:])
	if err != nil || by != ByNIK || len(found) != 1 || found[0].ID != jammed {
		t.Fatalf("FindJobs(NIK) = %s %+v %v, want job %s", by, found, err, jammed)
	}
	if by, found, _ := e.FindJobs(ctx, jammed); by != ByJob || len(found) != 1 {
		t.Errorf("FindJobs(job id) = %s %d", by, len(found))
	}
	if by, found, _ := e.FindJobs(ctx, strings.ToLower(per.Fields["nama"])); by != ByName || len(found) == 0 || found[0].Name != per.Fields["nama"] {
		t.Errorf("FindJobs(name) = %s %+v", by, found)
	}

	st, err := e.Story(ctx, jammed)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range st.Steps {
		k := s.Kind
		if s.Printer != "" {
			k += "@" + s.Printer
		}
		if s.Reason != "" {
			k += "(" + s.Reason + ")"
		}
		kinds = append(kinds, k)
	}
	if got := strings.Join(kinds, " "); got != "received spoiled@p1("+inventory.ReasonJam+") printed@p2" {
		t.Errorf("story = %q, want received, spoiled on p1 (jam), printed on p2", got)
	}
	if !st.HasData {
		t.Error("a job not yet purged says it has no data")
	}

	img, err := e.Preview(ctx, jammed)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width > MaxPreviewWidth || cfg.Width < 200 {
		t.Errorf("preview: %+v %v", cfg, err)
	}
}

func TestPrinterErrCode(t *testing.T) {
	for kind, want := range map[printer.Kind]string{printer.KindJam: PrinterJam, printer.KindCoverOpen: PrinterCoverOpen,
		printer.KindDisconnected: PrinterNotAnswering, printer.KindProtocol: PrinterFault} {
		if got := printerErrCode(&printer.Error{Printer: "p1", Op: "print", Kind: kind}); got != want {
			t.Errorf("%v: code %q, want %q", kind, got, want)
		}
	}
}

// A person's decision shows in the printer's counts and the waiting job
// carries its code.
func TestSpoilCountsOnPrinterAndCodes(t *testing.T) {
	r := newRig(t, "p1")
	r.open()
	ids := r.addJobs("B1", 1)
	r.stock("p1")
	ctx := context.Background()
	r.crashWithCardAtEncoder(ids[0])
	e2 := r.open()
	as, err := e2.AttentionList(ctx)
	if err != nil || len(as) != 1 || as[0].State != "uncertain" {
		t.Fatalf("attention after a crash = %+v %v, want the uncertain card", as, err)
	}
	if p := e2.byName["p1"].snapshot(); p.Code != PrinterUncertainRestart {
		t.Errorf("printer code after the crash %q", p.Code)
	}
	if err := e2.Spoil(ctx, ids[0], "supervisor"); err != nil {
		t.Fatal(err)
	}
	if p := e2.byName["p1"].snapshot(); p.Spoiled != 1 {
		t.Errorf("printer p1 shows %d spoiled after a supervisor spoiled its card, want 1", p.Spoiled)
	}
}
