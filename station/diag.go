package station

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"printstation/accounts"
	"printstation/chip"
	chipdiag "printstation/chip/diagcmd"
	"printstation/inventory"
	"printstation/printer"
	printerdiag "printstation/printer/diagcmd"
	"printstation/station/guide"
)

// errNoTechnician means the printer's driver offers no maintenance
// operations.
var errNoTechnician = errors.New("the printer's driver has no technician operations")

// DiagOps are the technician's operations the daemon runs on a printer it
// drives (POST /v1/printers/{name}/diag/{op}, the technician's page):
// three reads, and the actions of the guidance table (guidance.go). The
// others (reset, set-ribbon, a calibration print) need the daemon stopped
// (printstationctl diag printer opens the printer itself then).
var DiagOps = []string{"status", "counters", "sensors", string(guide.ActTestCard), string(guide.ActClean), string(guide.ActCleaningDone),
	string(guide.ActSelfAdjust), string(guide.ActReaderTest), string(guide.ActProbe)}

// DiagPermission is what a diag operation needs: the reads, view; the
// actions, the technician's printer.diag.
func DiagPermission(op string) accounts.Permission {
	if slices.Contains(guide.TechActions, guide.Action(op)) {
		return accounts.PrinterDiag
	}
	return accounts.View
}

// ErrDiagRefused is matched (errors.Is) by a *DiagRefused.
var ErrDiagRefused = errors.New("not allowed in the printer's present state")

// DiagRefused is a technician's action the guidance table does not allow
// in the printer's present state; nothing was sent to the printer.
type DiagRefused struct {
	Printer string
	Op      guide.Action
	State   PrinterState
	Guide   guide.Guide
}

func (e *DiagRefused) Error() string {
	var allowed []string
	for _, a := range e.Guide.Allow {
		allowed = append(allowed, string(a))
	}
	if e.State.State == string(wPrinting) {
		return fmt.Sprintf("printer %s is printing a card (job %s): %s is refused while a card is in the printer, so that nothing moves it behind the card's back; try again when the printer is idle", e.Printer, e.State.Job, e.Op)
	}
	what := e.State.State
	if e.State.Code != "" {
		what += " (" + e.State.Code + ")"
	}
	return fmt.Sprintf("printer %s is %s: %s is not allowed now (allowed: %s)", e.Printer, what, e.Op, strings.Join(allowed, ", "))
}

func (e *DiagRefused) Is(target error) bool { return target == ErrDiagRefused }

// PrinterDiag runs a technician's operation on a printer the daemon drives,
// holding the printer as a card would (never behind a worker's back). An
// action is refused at once, with why, when the guidance table does not
// allow it in the printer's state (a printing printer allows none). A test
// card takes a blank: it is recorded in the ledger as spoiled with reason
// "test", counted from the printer's own counter. A cleaning (the cycle,
// or one done by hand) is recorded for the cleaning policy.
func (e *Engine) PrinterDiag(ctx context.Context, name, op, actor string) (any, error) {
	w := e.byName[name]
	if w == nil {
		return nil, fmt.Errorf("no printer named %q on this station (printstationctl status lists them)", name)
	}
	if !slices.Contains(DiagOps, op) {
		return nil, fmt.Errorf("diag %q through the daemon: expected one of %v; for the others stop printstationd first", op, DiagOps)
	}
	act := guide.Action(op)
	check := func() error {
		if !slices.Contains(guide.TechActions, act) {
			return nil // a read
		}
		st := w.snapshot()
		if g := GuideFor(st); !g.Allows(act) {
			return &DiagRefused{Printer: name, Op: act, State: st, Guide: g}
		}
		return nil
	}
	if err := check(); err != nil {
		return nil, err
	}
	if err := e.holdPrinter(ctx, w); err != nil {
		return nil, err
	}
	defer w.release()
	// A card may have started while this waited for the printer.
	if err := check(); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	switch op {
	case "status":
		return w.p.Status(cctx)
	case "counters":
		return w.p.Counters(cctx)
	case "sensors":
		tech, err := e.technician(cctx, w)
		if err != nil {
			return nil, err
		}
		return tech.Sensors(cctx)
	case string(guide.ActTestCard):
		return e.testCard(cctx, w, actor)
	case string(guide.ActClean), string(guide.ActCleaningDone):
		return e.clean(cctx, w, actor, act)
	case string(guide.ActSelfAdjust):
		tech, err := e.technician(cctx, w)
		if err != nil {
			return nil, err
		}
		if err := tech.SelfAdjust(cctx); err != nil {
			return nil, fmt.Errorf("printer %s: self-adjust: %w", name, err)
		}
		e.publish(Event{Type: "printer_self_adjusted", Printer: name, Message: "by " + actor})
		return DiagDone{Printer: name, Done: op}, nil
	case string(guide.ActReaderTest):
		return e.readerTest(cctx, w)
	case string(guide.ActProbe):
		d, err := e.driverOf(cctx, w)
		if err != nil {
			return nil, err
		}
		return printerdiag.Probe(cctx, d, e.driverName(name), e.addrOf(name)), nil
	}
	return nil, fmt.Errorf("diag %q: not handled", op)
}

// DiagDone says an operation with nothing more to report was done.
type DiagDone struct {
	Printer string `json:"printer"`
	Done    string `json:"done"`
}

// CleanResult is a recorded cleaning.
type CleanResult struct {
	Printer string       `json:"printer"`
	Mark    CleaningMark `json:"cleaning"`
}

// clean runs the printer's cleaning cycle (guide.ActClean) or records one done
// by hand (guide.ActCleaningDone), reading the counters after it: the cleaning
// policy counts cards from there.
func (e *Engine) clean(ctx context.Context, w *worker, actor string, act guide.Action) (*CleanResult, error) {
	how := CleanByHand
	if act == guide.ActClean {
		how = CleanCycle
		tech, err := e.technician(ctx, w)
		if err != nil {
			return nil, err
		}
		if err := tech.Clean(ctx); err != nil {
			return nil, fmt.Errorf("printer %s: cleaning cycle: %w — the cycle runs with no card inside and the ribbon taken out, with a cleaning card loaded (nothing was recorded)", w.name, err)
		}
	}
	ctr, err := w.p.Counters(ctx)
	if err != nil {
		return nil, fmt.Errorf("printer %s: its counters cannot be read after the cleaning (%w), so it was not recorded: record it when the printer answers (record-cleaning)", w.name, err)
	}
	m, err := e.noteCleaning(ctx, w, actor, how, ctr)
	if err != nil {
		return nil, err
	}
	return &CleanResult{Printer: w.name, Mark: m}, nil
}

// ReaderTest is the outcome of the encoder's write test.
type ReaderTest struct {
	Printer string      `json:"printer"`
	FID     string      `json:"fid"`
	Bytes   int         `json:"bytes"`
	Use     *EncoderUse `json:"use,omitempty"`
	OK      bool        `json:"ok"`
	Error   string      `json:"error,omitempty"`
}

// readerTest writes a scratch file (chip/diagcmd.ScratchFID, outside the
// e-KTP application) to the card at the printer's encoder, reads it back
// and compares, as printstationctl diag reader --write-test does. It moves
// no card: a test card must be at the encoder.
func (e *Engine) readerTest(ctx context.Context, w *worker) (*ReaderTest, error) {
	if w.enc == nil {
		return nil, fmt.Errorf("printer %s has no chip encoder configured (encoder_reader)", w.name)
	}
	data := make([]byte, 1024)
	if _, err := rand.Read(data); err != nil {
		return nil, err
	}
	rt := &ReaderTest{Printer: w.name, FID: fmt.Sprintf("%04X", chipdiag.ScratchFID), Bytes: len(data)}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := w.enc.Personalize(tctx, chip.Personalization{Files: []chip.File{{FID: chipdiag.ScratchFID, Data: data}}})
	if te, ok := w.enc.(*timedEncoder); ok {
		rt.Use = te.lastUse()
	}
	rt.OK = err == nil
	if err != nil {
		rt.Error = fmt.Sprintf("%v — is a test card at the encoder?", err)
	}
	e.publish(Event{Type: "printer_reader_test", Printer: w.name, Message: fmt.Sprintf("ok=%v", rt.OK)})
	return rt, nil
}

// driverOf is the printer's driver under the engine's wrappers.
func (e *Engine) driverOf(ctx context.Context, w *worker) (printer.Driver, error) {
	dev := w.p
	if tp, ok := dev.(*timedPrinter); ok {
		dev = tp.Printer // the timing wrapper shows only the engine's side
	}
	switch p := dev.(type) {
	case printer.Driver:
		return p, nil
	case interface {
		driver(context.Context) (printer.Driver, error)
	}:
		d, err := p.driver(ctx)
		if err != nil {
			return nil, fmt.Errorf("printer %s: %w", w.name, err)
		}
		return d, nil
	}
	return nil, fmt.Errorf("printer %s: %w", w.name, errNoTechnician)
}

// technician is the driver's maintenance side.
func (e *Engine) technician(ctx context.Context, w *worker) (printer.Technician, error) {
	d, err := e.driverOf(ctx, w)
	if err != nil {
		return nil, err
	}
	t, ok := d.(printer.Technician)
	if !ok {
		return nil, fmt.Errorf("printer %s: %w", w.name, errNoTechnician)
	}
	return t, nil
}

func (e *Engine) driverName(name string) string {
	for _, pc := range e.config().Printers {
		if pc.Name == name {
			return pc.Driver
		}
	}
	return ""
}

func (e *Engine) addrOf(name string) string {
	for _, pc := range e.config().Printers {
		if pc.Name == name {
			return pc.Addr()
		}
	}
	return ""
}

// TestCardResult says what a test card took from the feeder.
type TestCardResult struct {
	Printer string `json:"printer"`
	Blanks  int64  `json:"blanks"` // blanks the printer's counter says the test took
	Error   string `json:"error,omitempty"`
}

func (e *Engine) testCard(ctx context.Context, w *worker, actor string) (*TestCardResult, error) {
	tech, err := e.technician(ctx, w)
	if err != nil {
		return nil, err
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
