package station

import (
	"context"
	"errors"
	"fmt"
	"time"

	"printstation/inventory"
	"printstation/printer"
)

// errNoTechnician means the printer's driver offers no maintenance
// operations.
var errNoTechnician = errors.New("the printer's driver has no technician operations")

// DiagOps are the technician's operations the daemon runs on a printer it
// drives; the others need the daemon stopped (printstationctl diag printer
// opens the printer itself then).
var DiagOps = []string{"status", "counters", "test-card"}

// PrinterDiag runs a technician's operation on a printer the daemon drives,
// holding the printer as a card would (never behind a worker's back). A
// test card takes a blank: it is recorded in the ledger as spoiled with
// reason "test", counted from the printer's own counter.
func (e *Engine) PrinterDiag(ctx context.Context, name, op, actor string) (any, error) {
	w := e.byName[name]
	if w == nil {
		return nil, fmt.Errorf("no printer named %q on this station (printstationctl status lists them)", name)
	}
	if err := e.holdPrinter(ctx, w); err != nil {
		return nil, err
	}
	defer w.release()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	switch op {
	case "status":
		return w.p.Status(cctx)
	case "counters":
		return w.p.Counters(cctx)
	case "test-card":
		return e.testCard(cctx, w, actor)
	}
	return nil, fmt.Errorf("diag %q through the daemon: expected one of %v; for the others stop printstationd first", op, DiagOps)
}

// TestCardResult says what a test card took from the feeder.
type TestCardResult struct {
	Printer string `json:"printer"`
	Blanks  int64  `json:"blanks"` // blanks the printer's counter says the test took
	Error   string `json:"error,omitempty"`
}

func (e *Engine) testCard(ctx context.Context, w *worker, actor string) (*TestCardResult, error) {
	var tech printer.Technician
	dev := w.p
	if tp, ok := dev.(*timedPrinter); ok {
		dev = tp.Printer // the timing wrapper shows only the engine's side
	}
	switch p := dev.(type) {
	case printer.Technician:
		tech = p
	case interface {
		technician(context.Context) (printer.Technician, error)
	}:
		t, err := p.technician(ctx)
		if err != nil {
			return nil, fmt.Errorf("printer %s: %w", w.name, err)
		}
		tech = t
	default:
		return nil, fmt.Errorf("printer %s: %w", w.name, errNoTechnician)
	}
	// The blank a test card takes must be counted: without the counter it
	// could not be, so no test card is run.
	before, err := w.p.Counters(ctx)
	if err != nil {
		return nil, fmt.Errorf("printer %s: its card counter cannot be read (%w), so a test card could not be counted: none was run", w.name, err)
	}
	stock, err := e.ledger.Stock(ctx)
	if err != nil {
		return nil, fmt.Errorf("the ledger cannot be read (%w): no test card was run", err)
	}
	if stock.Printers[w.name] <= 0 {
		return nil, fmt.Errorf("the ledger has no blanks loaded in printer %s: record the load first (printstationctl stock load)", w.name)
	}
	terr := tech.TestCard(ctx)
	after, cerr := w.p.Counters(context.WithoutCancel(ctx))
	if cerr != nil {
		msg := fmt.Sprintf("a test card was run on printer %s (%v) and its card counter could not be read afterwards (%v): the ledger does not know how many blanks it took; count them and record the difference (printstationctl stock adjust), then resume", w.name, terr, cerr)
		w.pause(wAttention, msg)
		return nil, errors.New(msg)
	}
	res := &TestCardResult{Printer: w.name, Blanks: after.CardsInserted - before.CardsInserted}
	if terr != nil {
		res.Error = terr.Error()
	}
	for i := int64(0); i < res.Blanks; i++ {
		if _, err := e.ledger.Record(context.WithoutCancel(ctx), inventory.Event{Kind: inventory.Spoiled, Actor: actor, Printer: w.name, UID: inventory.UIDUnknown, Reason: inventory.ReasonTest}); err != nil {
			msg := fmt.Sprintf("a test card on printer %s took %d blank(s) but the ledger refused to record it (%v): record it by hand (printstationctl stock adjust), then resume", w.name, res.Blanks, err)
			w.pause(wAttention, msg)
			return nil, errors.New(msg)
		}
	}
	e.publish(Event{Type: "printer_test_card", Printer: w.name, Message: fmt.Sprintf("%d blank(s) by %s", res.Blanks, actor)})
	if terr != nil {
		w.printerFault(terr)
	}
	return res, nil
}
