// Package diagcmd is `printstationctl diag reader`: what a technician runs
// when the chip encoder misbehaves. It lists the PC/SC readers and their
// state, shows the ATR and UID of the card in the encoder, measures the APDU
// round-trip time and, with --write-test, writes a scratch file, reads it
// back and compares.
package diagcmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"printstation/chip"
	"printstation/chip/pcsc"
)

// ScratchFID is the file the write test creates. It is outside the e-KTP
// application's range so it never collides with personalization data.
const ScratchFID = 0xEF7F

const usage = `usage: printstationctl diag reader [--reader PATTERN] [--write-test] [--json] [--timeout DURATION]

Lists the PC/SC card readers and their state. With a card in the selected
reader: its ATR and UID, and the APDU round-trip time.

  --reader PATTERN  the encoder's reader: a glob ("Virtual PCD 00 00",
                    "Evolis*") or re:REGEXP. Default: the one reader holding
                    a card, if exactly one does.
  --write-test      also create scratch file EF7F (1 KiB of random bytes),
                    read it back and compare. Use a test card: this writes
                    to the chip.
  --json            machine-readable output
  --timeout D       how long to wait for a card (default 5s)

Exit status: 0 all good, 1 a problem was found (listed), 2 bad usage.
`

// Report is the --json output.
type Report struct {
	Readers   []Reader   `json:"readers"`
	Selected  string     `json:"selected,omitempty"`
	Card      *Card      `json:"card,omitempty"`
	WriteTest *WriteTest `json:"write_test,omitempty"`
	Problems  []string   `json:"problems,omitempty"`
}

// Reader is one PC/SC reader.
type Reader struct {
	Name  string `json:"name"`
	State string `json:"state"` // "card present", "empty", "card in use", "card mute"
	ATR   string `json:"atr,omitempty"`
}

// Card is the card in the selected reader.
type Card struct {
	ATR            string  `json:"atr"`
	ExtendedLength bool    `json:"extended_length"`
	UID            string  `json:"uid"` // hex or "uid unknown"
	RTTMinMS       float64 `json:"rtt_min_ms"`
	RTTMedianMS    float64 `json:"rtt_median_ms"`
	RTTMaxMS       float64 `json:"rtt_max_ms"`
}

// WriteTest is the outcome of --write-test.
type WriteTest struct {
	FID    string  `json:"fid"`
	Bytes  int     `json:"bytes"`
	APDUs  int     `json:"apdus"`
	Millis float64 `json:"ms"`
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
}

const rttSamples = 10

// Main runs `diag reader`; args are what follows "reader".
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diag reader", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	pattern := fs.String("reader", "", "")
	writeTest := fs.Bool("write-test", false, "")
	asJSON := fs.Bool("json", false, "")
	timeout := fs.Duration("timeout", 5*time.Second, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "diag reader: unexpected argument %q\n\n%s", fs.Arg(0), usage)
		return 2
	}
	rep := run(ctx, *pattern, *writeTest, *timeout)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printText(stdout, rep)
	}
	if len(rep.Problems) > 0 {
		return 1
	}
	return 0
}

func run(ctx context.Context, pattern string, writeTest bool, timeout time.Duration) Report {
	var rep Report
	readers, err := pcsc.Readers()
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep
	}
	var present []string
	for _, r := range readers {
		st := "empty"
		switch {
		case r.Mute:
			st = "card mute"
		case r.InUse:
			st = "card in use"
		case r.Present:
			st = "card present"
		}
		if r.Present {
			present = append(present, r.Name)
		}
		rep.Readers = append(rep.Readers, Reader{Name: r.Name, State: st, ATR: hex.EncodeToString(r.ATR)})
	}
	if len(readers) == 0 {
		rep.Problems = append(rep.Problems, "no card readers: is the printer connected and its encoder's driver installed?")
		return rep
	}
	if pattern == "" {
		if len(present) != 1 {
			if writeTest {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%d readers hold a card; choose one with --reader", len(present)))
			}
			return rep
		}
		pattern = present[0]
	}
	e, err := pcsc.Open(ctx, pattern)
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep
	}
	defer e.Close()
	rep.Selected = e.Reader()

	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = e.Do(cctx, func(ctx context.Context, c chip.Card, atr []byte) error {
		card := &Card{ATR: hex.EncodeToString(atr)}
		if info, err := chip.ParseATR(atr); err == nil {
			card.ExtendedLength = info.ExtendedLength
		}
		uid, _, err := chip.ReadUID(ctx, c)
		if err != nil {
			return err
		}
		card.UID = chip.Result{UID: uid}.UIDString()
		rtts, err := roundTrips(ctx, c)
		if err != nil {
			return err
		}
		card.RTTMinMS, card.RTTMedianMS, card.RTTMaxMS = ms(rtts[0]), ms(rtts[len(rtts)/2]), ms(rtts[len(rtts)-1])
		rep.Card = card
		return nil
	})
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep
	}
	if writeTest {
		rep.WriteTest = scratchTest(ctx, e, timeout)
		if !rep.WriteTest.OK {
			rep.Problems = append(rep.Problems, "write test: "+rep.WriteTest.Error)
		}
	}
	return rep
}

// roundTrips times SELECT MF, a command every card answers without
// changing anything.
func roundTrips(ctx context.Context, c chip.Card) ([]time.Duration, error) {
	sel := []byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00}
	out := make([]time.Duration, 0, rttSamples)
	for range rttSamples {
		t0 := time.Now()
		if _, err := c.Transmit(ctx, sel); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	slices.Sort(out)
	return out, nil
}

func scratchTest(ctx context.Context, e *pcsc.Encoder, timeout time.Duration) *WriteTest {
	data := make([]byte, 1024)
	_, _ = rand.Read(data)
	wt := &WriteTest{FID: fmt.Sprintf("%04X", ScratchFID), Bytes: len(data)}
	cctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	t0 := time.Now()
	res, err := e.Personalize(cctx, chip.Personalization{Files: []chip.File{{FID: ScratchFID, Data: data}}})
	wt.Millis = ms(time.Since(t0))
	wt.APDUs = res.APDUs
	if err != nil {
		wt.Error = err.Error()
		return wt
	}
	wt.OK = true
	return wt
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printText(w io.Writer, rep Report) {
	fmt.Fprintln(w, "Readers:")
	if len(rep.Readers) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, r := range rep.Readers {
		fmt.Fprintf(w, "  %-40s %s\n", r.Name, r.State)
	}
	if rep.Selected != "" {
		fmt.Fprintf(w, "Encoder reader: %s\n", rep.Selected)
	}
	if c := rep.Card; c != nil {
		fmt.Fprintf(w, "  ATR:             %s (extended length: %v)\n", c.ATR, yesNo(c.ExtendedLength))
		fmt.Fprintf(w, "  UID:             %s\n", c.UID)
		fmt.Fprintf(w, "  APDU round trip: min %.1f ms, median %.1f ms, max %.1f ms (%d x SELECT MF)\n", c.RTTMinMS, c.RTTMedianMS, c.RTTMaxMS, rttSamples)
	}
	if wt := rep.WriteTest; wt != nil {
		if wt.OK {
			fmt.Fprintf(w, "  Write test:      OK — %d bytes to file %s written, read back and matched (%d APDUs, %.0f ms)\n", wt.Bytes, wt.FID, wt.APDUs, wt.Millis)
		} else {
			fmt.Fprintf(w, "  Write test:      FAILED after %d APDUs\n", wt.APDUs)
		}
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintln(w, "Problems:")
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
