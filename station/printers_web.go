package station

// Printers lists each printer's line of the status report, in config
// order, for the web page. Loaded is the ledger's count of blanks in the
// printer (read from Stock), so it is left at zero here.
func (e *Engine) Printers() []PrinterState {
	out := make([]PrinterState, 0, len(e.workers))
	for _, w := range e.workers {
		out = append(out, w.snapshot())
	}
	return out
}

// Central says how the link to the central server is, in words for the
// print room.
func (e *Engine) Central() string { return e.centralState() }
