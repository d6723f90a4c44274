package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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
		mode = "soft"
		if o.Printers <= len(viccPorts) && viccAvailable(ctx) {
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
		if !viccAvailable(ctx) {
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

func viccAvailable(ctx context.Context) bool {
	if _, err := exec.LookPath("vicc"); err != nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := vicc.EnsurePcscd(cctx)
	return err == nil
}

// viccBed starts a virtual card with its own UID on the printer's reader
// when a blank reaches the encoder and removes it (writing its dump) when
// the card leaves: the real physics of a card printer.
func viccBed(port, printerNo int, dumps string) bed {
	var mu sync.Mutex
	var cur *vicc.Card
	remove := func() {
		mu.Lock()
		c := cur
		cur = nil
		mu.Unlock()
		if c != nil {
			c.Remove()
		}
	}
	return bed{
		reader: vicc.ReaderName(port),
		hook: func(ev simprinter.StationEvent) {
			if !ev.Arrived {
				remove()
				return
			}
			remove()
			uid := []byte{0x04, byte(printerNo), byte(ev.Card >> 16), byte(ev.Card >> 8), byte(ev.Card), 0x80, 0x02}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := vicc.Start(ctx, vicc.Options{Port: port, UID: uid,
				DumpPath: filepath.Join(dumps, fmt.Sprintf("p%d-card-%06d.json", printerNo, ev.Card))})
			if err != nil {
				return // the encoder then finds no card: the engine spoils the blank with the reason
			}
			mu.Lock()
			cur = c
			mu.Unlock()
		},
		encoder: func(ctx context.Context) (station.Encoder, error) {
			return pcsc.Open(ctx, vicc.ReaderName(port))
		},
		close: remove,
	}
}
