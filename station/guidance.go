package station

import (
	"printstation/station/guide"
)

// printerErrCode maps the driver's typed errors to a code through the
// guidance table (station/guide).
func printerErrCode(err error) string { return guide.CodeOf(err) }

// GuideFor is the guidance row for a printer as the engine reports it.
func GuideFor(ps PrinterState) guide.Guide { return guide.For(ps.State, ps.Code) }
