package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"printstation/chip/pcsc"
	"printstation/sim/chip/vicc"
	simprinter "printstation/sim/printer"
	"printstation/station"
)

// vpcd offers two virtual readers, so the virtual-card test bed serves at
// most two printers.
var viccPorts = []int{35963, 35964}

// chipBeds picks the chip test bed: a virtual card on the real pcscd when
// it is there (and asked for, or auto), else the in-process software card.
func chipBeds(ctx context.Context, o Options) (string, []bed, error) {
	mode := o.Chip
	if mode == "auto" {
		// The virtual card only when pcscd is already running (make demo
		// starts it): a demo does not start system daemons on its own.
		mode = "soft"
		if o.Printers <= len(viccPorts) && vicc.PcscdPID() != 0 && viccAvailable(ctx, 5*time.Second) {
			mode = "vicc"
		}
	}
	beds := make([]bed, o.Printers)
	switch mode {
	case "soft":
		for i := range beds {
			beds[i] = softBed(i + 1)
		}
		return "software card in each printer's encoder", beds, nil
	case "vicc":
		if o.Printers > len(viccPorts) {
			return "", nil, fmt.Errorf("--chip vicc serves at most %d printers (vpcd has two readers)", len(viccPorts))
		}
		// Asked for explicitly (make demo does, right after starting
		// pcscd): give vpcd's readers time to appear.
		if !viccAvailable(ctx, 30*time.Second) {
			return "", nil, fmt.Errorf("--chip vicc: pcscd with vsmartcard-vpcd and vicc are not available (make testbed-up starts pcscd)")
		}
		dumps := filepath.Join(o.Out, "chips")
		os.MkdirAll(dumps, 0o750)
		for i := range beds {
			beds[i] = viccBed(viccPorts[i], i+1, dumps)
		}
		return "virtual card (vicc) on the real pcscd", beds, nil
	}
	return "", nil, fmt.Errorf("--chip %q: expected soft, vicc or auto", o.Chip)
}

func viccAvailable(ctx context.Context, wait time.Duration) bool {
	if _, err := exec.LookPath("vicc"); err != nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	_, err := vicc.EnsurePcscd(cctx)
	return err == nil
}

// viccBed gives the printer's contactless station a virtual card on the
// real pcscd (vicc.Bed): a fresh chip with its own UID for every blank.
func viccBed(port, printerNo int, dumps string) bed {
	b := &vicc.Bed{Port: port, UIDPrefix: []byte{0x04, byte(printerNo), 0x80, 0x02}, Applications: [][]byte{blankAID},
		DumpDir: filepath.Join(dumps, fmt.Sprintf("p%d", printerNo))}
	os.MkdirAll(b.DumpDir, 0o750)
	return bed{
		reader: vicc.ReaderName(port),
		hook:   func(ev simprinter.StationEvent) { b.Station(ev.Card, ev.Arrived) },
		encoder: func(ctx context.Context) (station.Encoder, error) {
			return pcsc.Open(ctx, vicc.ReaderName(port))
		},
		close: b.Close,
	}
}
