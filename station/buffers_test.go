package station

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"printstation/card"
	"printstation/jobqueue"
	"printstation/printer/raster"
	"printstation/sim/central"
)

// panelsHash names a side's panels by their bytes.
func panelsHash(p *raster.Panels) [32]byte {
	h := sha256.New()
	for _, pl := range p.List() {
		fmt.Fprintf(h, "%c%d:", pl.Name, pl.Levels)
		h.Write(pl.Data)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// TestEachCardKeepsItsOwnFace: the engine draws cards in reused buffers
// (cardBuffers). Two printers print a batch while each holds every print
// for a while (the other printer prepares its next card meanwhile); the
// panels each printer is given are, from the print until the card leaves
// the printer, exactly one job's own face — computed here from the job
// alone — and no face is printed twice. A buffer handed to the next card
// while its card is still in the printer fails this (tried: released at
// the end of prepare, the other printer's next card is drawn into it and
// one person's face goes out twice).
func TestEachCardKeepsItsOwnFace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1", "p2")
		e := r.open()
		ids := r.addJobs("B1", 12)
		// Each job's face, from its own payload (the same specs addJobs
		// signs), converted whole.
		tpl := card.DemoTemplate()
		face := map[[32]byte]string{}
		base := time.Now().Add(-time.Hour)
		for i, id := range ids {
			spec := central.JobSpec{Station: "ST-T", JobID: id, Batch: "B1", Recorded: base.Add(time.Duration(i) * time.Minute), Issued: base, KID: "k1", Seed: uint64(i + 1)}
			p := spec.Payload()
			col, blk, err := card.Render(tpl, p.Fields, p.Photo, p.Signature)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := raster.Convert(col, blk, raster.Options{})
			if err != nil {
				t.Fatal(err)
			}
			face[panelsHash(ps)] = id
		}
		r.stock(r.printerNames()...)
		var mu sync.Mutex
		printed := map[string]int{}
		var bad []string
		for _, name := range []string{"p1", "p2"} {
			name := name
			var inPrinter *raster.Panels
			var want [32]byte
			if _, err := r.parts(t.Context(), r.cfg, e.log); err != nil { // the wrapped printers, kept for Run
				t.Fatal(err)
			}
			cp := r.wrapped[name]
			cp.onPrint = func(p *raster.Panels) {
				h := panelsHash(p)
				mu.Lock()
				id, ok := face[h]
				if !ok {
					bad = append(bad, name+": printed a face that is no job's")
				} else {
					printed[id]++
				}
				mu.Unlock()
				inPrinter, want = p, h
				// The print takes a while: the other printer's next card is
				// prepared meanwhile.
				time.Sleep(200 * time.Millisecond)
				if panelsHash(p) != h {
					mu.Lock()
					bad = append(bad, name+": the panels changed while they printed")
					mu.Unlock()
				}
			}
			cp.onEject = func() {
				if inPrinter != nil && panelsHash(inPrinter) != want {
					mu.Lock()
					bad = append(bad, name+": the panels of the card in the printer changed before it left")
					mu.Unlock()
				}
			}
		}
		if err := e.SetBatch(t.Context(), "B1", "start", "op"); err != nil {
			t.Fatal(err)
		}
		r.runUntil(r.allIn(ids, jobqueue.Printed))
		mu.Lock()
		defer mu.Unlock()
		for _, b := range bad {
			t.Error(b)
		}
		for _, id := range ids {
			if printed[id] != 1 {
				t.Errorf("job %s: its face printed %d times", id, printed[id])
			}
		}
	})
}
