// Command printersim is an Evolis card printer simulator on a TCP port, for
// demos and for crash tests that must kill the station but not the
// "printer".
//
//	printersim --listen 127.0.0.1:9100 --speed 1 --out sim-out \
//	    --feeder 100 --serial SIM0001 --fault 3:print:jam --faults faults.txt
//
// Faults are CARD:PHASE:KIND[:ARG] (see sim/printer): card is the blank's
// number over the printer's life, or *; phase is feed, contactless, print or
// eject; kind is jam, feeder_empty, ribbon_end, cover_open, reject_full,
// disconnect, busy, garbled or slow.
//
// --admin ADDR serves the operator's hand actions over HTTP (see admin.go).
package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"printstation/sim/chip/vicc"
	simprinter "printstation/sim/printer"
)

type faultList []simprinter.Fault

func (f *faultList) String() string { return fmt.Sprint(*f) }
func (f *faultList) Set(s string) error {
	x, err := simprinter.ParseFault(s)
	if err != nil {
		return err
	}
	*f = append(*f, x)
	return nil
}

func main() {
	fs := flag.NewFlagSet("printersim", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9100", "TCP address to listen on")
	speed := fs.Float64("speed", 1, "pace: 1 = a real printer, 10 = ten times faster, 0 = no waiting")
	out := fs.String("out", "printersim-out", "directory for state.json, journal.jsonl and card PNGs")
	feeder := fs.Int("feeder", 0, "blanks in the feeder at start (0: 100, or what state.json says)")
	serial := fs.String("serial", "SIM0001", "serial number the printer reports")
	ribbon := fs.String("ribbon", "ymcko", "installed ribbon type")
	ribbonPrints := fs.Int("ribbon-prints", 250, "prints on a fresh ribbon")
	rejectCap := fs.Int("reject-capacity", 20, "cards the reject box holds")
	coverFor := fs.Duration("cover-open-for", 0, "how long a cover_open fault keeps the cover open")
	replyEnd := fs.String("reply-end", "cr", "reply terminator: cr, lf, nul, crlf, or none (the host must notice the line went quiet)")
	var faults faultList
	fs.Var(&faults, "fault", "a fault CARD:PHASE:KIND[:ARG] (repeatable), e.g. 3:print:jam")
	faultFile := fs.String("faults", "", "file of faults, one a line")
	viccPort := fs.Int("vicc-port", 0, "put a fresh virtual card (vicc) on this vpcd port whenever a card reaches the contactless station (35963 = \"Virtual PCD 00 00\")")
	chipDumps := fs.String("chip-dumps", "", "with --vicc-port: write each card's chip files here as JSON when it leaves the encoder")
	admin := fs.String("admin", "", "serve the operator's hand actions (open the cover, take a card out, put one back) over HTTP on this loopback address")
	chipAID := fs.String("chip-aid", "A0000002471001", "with --vicc-port: the application the card maker installs on every blank (hex, empty for none)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	if *faultFile != "" {
		f, err := os.Open(*faultFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "printersim:", err)
			os.Exit(2)
		}
		more, err := simprinter.ParseFaults(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "printersim: %s: %v\n", *faultFile, err)
			os.Exit(2)
		}
		faults = append(faults, more...)
	}
	ends := map[string]string{"cr": "\r", "lf": "\n", "nul": "\x00", "crlf": "\r\n", "none": "none"}
	end, ok := ends[strings.ToLower(*replyEnd)]
	if !ok {
		fmt.Fprintf(os.Stderr, "printersim: --reply-end %q: want cr, lf, nul, crlf or none\n", *replyEnd)
		os.Exit(2)
	}
	cfg := simprinter.Config{
		Serial: *serial, Speed: *speed, OutDir: *out, Feeder: *feeder, Ribbon: *ribbon,
		RibbonPrints: *ribbonPrints, RejectCapacity: *rejectCap, CoverOpenFor: *coverFor,
		ReplyEnd: end, Faults: faults, Log: log,
	}
	if *viccPort != 0 {
		bed, err := chipBed(*viccPort, *serial, *chipDumps, *chipAID, log)
		if err != nil {
			fmt.Fprintln(os.Stderr, "printersim:", err)
			os.Exit(2)
		}
		defer bed.Close()
		cfg.OnStation = func(ev simprinter.StationEvent) { bed.Station(ev.Card, ev.Arrived) }
	}
	sim, err := simprinter.Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "printersim:", err)
		os.Exit(1)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "printersim:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sim.Close()
	}()
	adminAddr := ""
	if *admin != "" {
		host, _, err := net.SplitHostPort(*admin)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			fmt.Fprintf(os.Stderr, "printersim: --admin %q: expected a loopback address such as 127.0.0.1:0\n", *admin)
			os.Exit(2)
		}
		al, err := net.Listen("tcp", *admin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "printersim:", err)
			os.Exit(1)
		}
		go serveAdmin(al, sim)
		adminAddr = al.Addr().String()
	}
	// One line on stdout with the bound address, for scripts and tests that
	// ask for port 0 (the admin address, if any, on the next line).
	fmt.Printf("printersim listening on %s\n", l.Addr())
	if adminAddr != "" {
		fmt.Printf("printersim admin on %s\n", adminAddr)
	}
	sn := sim.Snapshot()
	log.Info().Str("listen", l.Addr().String()).Str("out", *out).Int("feeder", sn.Feeder).
		Int64("cards_inserted", sn.CardsInserted).Int("faults", len(faults)).Msg("printer simulator ready")
	if err := sim.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, "printersim:", err)
		os.Exit(1)
	}
}

// chipBed wires the contactless station to a virtual card on the real pcscd:
// each blank brings a fresh chip with its own UID.
func chipBed(port int, serial, dumps, aidHex string, log zerolog.Logger) (*vicc.Bed, error) {
	var apps [][]byte
	if aidHex != "" {
		aid, err := hex.DecodeString(aidHex)
		if err != nil || len(aid) < 5 || len(aid) > 16 {
			return nil, fmt.Errorf("--chip-aid %q: expected 5 to 16 bytes in hex", aidHex)
		}
		apps = append(apps, aid)
	}
	if dumps != "" {
		if err := os.MkdirAll(dumps, 0o755); err != nil {
			return nil, fmt.Errorf("--chip-dumps: %w", err)
		}
	}
	// The UID names the printer (a hash of its serial) and the card number.
	h := fnv.New32a()
	h.Write([]byte(serial))
	sum := h.Sum32()
	return &vicc.Bed{Port: port, UIDPrefix: []byte{0x04, byte(sum >> 8), byte(sum), byte(port & 0xff)}, DumpDir: dumps, Applications: apps,
		OnError: func(card int, err error) {
			log.Warn().Int("card", card).Err(err).Msg("virtual card not inserted; the station will find no chip")
		}}, nil
}
