// Package diagcmd is "printstationctl diag printer": what a technician runs
// at the printer to see what it says and to make it do maintenance.
//
//	diag printer --printer ADDR [--driver evolis|ipp] [--json] [--record FILE] CMD
//
// CMD is info, status, counters, sensors, probe, set-ribbon, clean,
// test-card, self-adjust, reset, or print FRONT.png [BACK.png] (a
// calibration print through the same raster path as a job). For a print
// queue (ipp://…) status shows the queue's state, its reasons and marker
// levels, and test-card and print go through the queue as a job does.
//
// --record FILE writes every byte exchanged with the printer to FILE (a
// printer/session file); --replay FILE plays such a file back instead of a
// printer, which is how a technician's recording becomes a regression test.
package diagcmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"printstation/printer"
	_ "printstation/printer/all" // drivers and transports
	"printstation/printer/ipp"
	"printstation/printer/raster"
	"printstation/printer/session"
	"printstation/version"
)

const usage = `usage: diag printer --printer ADDR [--driver evolis|ipp] [--json] [--record FILE] CMD

ADDR is usb:VID:PID[:SERIAL] (hex ids, e.g. usb:0F49:0010), tcp://HOST:PORT,
or a print queue ipp://HOST[:PORT]/printers/NAME (driver ipp, chosen by itself).

CMD:
  info                    model, serial number, firmware
  status                  cover, feeder, ribbon, card, cleaning; a queue: state, reasons, markers
  counters                the printer's own counters (cards inserted, panels, cleanings)
  sensors                 raw sensor voltages
  probe                   every read-only command, raw replies and what the driver
                          makes of them: one report to send back (use with --record)
  set-ribbon RIBBON       tell the printer which ribbon is in (ymcko, ko, k, …) after
                          looking at it, when it reports another
  clean                   cleaning cycle (take the ribbon out, load a cleaning card first)
  test-card               the printer's test card (takes a blank: record it as a test card)
  self-adjust             sensor self-adjustment
  reset                   software reset (forgets a stuck sequence)
  print FRONT.png [BACK.png]
                          calibration print of 1016×648 images (takes a blank)
`

// Main runs the command; args start after "printer". It returns the exit
// status: 0 done, 1 the printer failed, 2 wrong usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diag printer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage, "\nflags:\n")
		fs.PrintDefaults()
	}
	addr := fs.String("printer", "", "printer address (required)")
	driver := fs.String("driver", "", "printer driver (default evolis, or ipp for an ipp:// address)")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	levels := fs.Int("levels", 32, "print: colour levels (32, 64, 128)")
	backRibbon := fs.String("back-ribbon", "k", "print: panels for the back side (k, ko, ymcko)")
	compress := fs.Bool("compress", true, "print: compressed K/O downloads")
	ribbon := fs.String("ribbon", "", "the ribbon the printer should have (ymcko, ko, k, …); empty: what the printer reports")
	record := fs.String("record", "", "write every byte exchanged with the printer to this session file")
	replay := fs.String("replay", "", "play this session file back instead of talking to a printer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if *addr == "" && *replay != "" {
		*addr = "tcp://replay:0" // the recording's own address is shown from its header
	}
	if *addr == "" || len(rest) == 0 || (*record != "" && *replay != "") {
		fs.Usage()
		return 2
	}
	if *driver == "" {
		*driver = "evolis"
		if strings.HasPrefix(*addr, "ipp://") || strings.HasPrefix(*addr, "ipps://") {
			*driver = ipp.Name
		}
	}
	cmd, cargs := rest[0], rest[1:]
	known := map[string]bool{"info": true, "status": true, "counters": true, "sensors": true, "probe": true, "set-ribbon": true, "clean": true,
		"test-card": true, "self-adjust": true, "reset": true, "print": true}
	if !known[cmd] {
		fmt.Fprintf(stderr, "diag printer: unknown command %q\n\n", cmd)
		fs.Usage()
		return 2
	}
	wantArgs := map[string][2]int{"print": {1, 2}, "set-ribbon": {1, 1}}[cmd]
	if len(cargs) < wantArgs[0] || len(cargs) > wantArgs[1] {
		fmt.Fprintf(stderr, "diag printer: wrong arguments for %s\n\n", cmd)
		fs.Usage()
		return 2
	}
	// Load images before touching the printer: a bad file costs no blank.
	var sides []*raster.Panels
	var images []image.Image
	if cmd == "print" {
		for i, path := range cargs {
			img, err := loadImage(path)
			if err != nil {
				fmt.Fprintln(stderr, "diag printer:", err)
				return 2
			}
			images = append(images, img)
			opt := raster.Options{Levels: *levels, Ribbon: *ribbon}
			if i == 1 {
				opt.Ribbon = *backRibbon
			}
			ps, err := raster.Convert(img, nil, opt)
			if err != nil {
				fmt.Fprintf(stderr, "diag printer: %s: %v\n", path, err)
				return 2
			}
			sides = append(sides, ps)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	opts := printer.Options{Name: *addr, Compress: *compress, Ribbon: *ribbon, Log: zerolog.Nop()}
	var rec *session.Recorder
	var player *session.Player
	var captured strings.Builder
	switch {
	case *record != "":
		f, err := os.Create(*record)
		if err != nil {
			fmt.Fprintln(stderr, "diag printer: --record:", err)
			return 2
		}
		defer f.Close()
		dial, err := printer.Transport(*addr)
		if err != nil {
			fmt.Fprintln(stderr, "diag printer:", err)
			return 2
		}
		rec, err = session.NewRecorder(f, session.Meta{Driver: *driver, Addr: *addr, Args: withoutRecord(args), Recorded: time.Now().UTC(), Tool: "printstationctl diag printer " + version.Version})
		if err != nil {
			fmt.Fprintln(stderr, "diag printer: --record:", err)
			return 1
		}
		opts.Dial = rec.Dialer(dial)
		stdout = io.MultiWriter(stdout, &captured)
	case *replay != "":
		f, err := os.Open(*replay)
		if err != nil {
			fmt.Fprintln(stderr, "diag printer: --replay:", err)
			return 2
		}
		s, err := session.ReadSession(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "diag printer: --replay %s: %v\n", *replay, err)
			return 2
		}
		player = session.NewPlayer(s)
		opts.Dial = player.Dial
	}
	code := run(ctx, cmd, cargs, *driver, *addr, *asJSON, opts, sides, images, stdout, stderr)
	if rec != nil {
		if err := rec.Finish(session.End{Exit: code, Output: captured.String()}); err != nil {
			fmt.Fprintln(stderr, "diag printer: --record:", err)
			return 1
		}
		fmt.Fprintf(stderr, "diag printer: session recorded in %s\n", *record)
	}
	if player != nil {
		if err := player.Done(); err != nil {
			fmt.Fprintf(stderr, "diag printer: --replay %s: %v\n", *replay, err)
			return 1
		}
	}
	return code
}

// run opens the printer and does cmd.
func run(ctx context.Context, cmd string, cargs []string, driver, addr string, asJSON bool, opts printer.Options, sides []*raster.Panels, images []image.Image, stdout, stderr io.Writer) int {
	d, err := printer.Open(ctx, driver, addr, opts)
	if err != nil {
		fmt.Fprintln(stderr, "diag printer:", err)
		return 1
	}
	defer d.Close()
	out := &output{w: stdout, json: asJSON}

	tech, _ := d.(printer.Technician)
	needTech := func() bool {
		if tech == nil {
			fmt.Fprintf(stderr, "diag printer: the %s driver has no %s operation\n", driver, cmd)
			return false
		}
		return true
	}
	var res any
	if q, ok := d.(queue); ok {
		// A print queue: its own words for status, and whole cards.
		switch cmd {
		case "status":
			res, err = q.Queue(ctx)
		case "test-card":
			if err = q.TestCard(ctx); err == nil {
				res = done{Done: "test card printed through the queue (record the blank as a test card)"}
			}
		case "print":
			c := ipp.Card{Title: "printstation calibration", Front: images[0]}
			if len(images) == 2 {
				c.Back = images[1]
			}
			var j ipp.Job
			if j, err = q.PrintCard(ctx, c); err == nil {
				res = done{Done: fmt.Sprintf("printed %d side(s) through the queue as job %d", len(images), j.ID)}
			}
		}
		if res != nil || err != nil {
			if err != nil {
				out.fail(stderr, err)
				return 1
			}
			out.show(res)
			return 0
		}
	}
	switch cmd {
	case "info":
		res, err = d.Info(ctx)
	case "status":
		res, err = d.Status(ctx)
	case "counters":
		res, err = d.Counters(ctx)
	case "sensors":
		if !needTech() {
			return 1
		}
		res, err = tech.Sensors(ctx)
	case "probe":
		res = Probe(ctx, d, driver, addr)
	case "set-ribbon":
		rs, ok := d.(ribbonSetter)
		if !ok {
			fmt.Fprintf(stderr, "diag printer: the %s driver cannot set the ribbon\n", driver)
			return 1
		}
		if err = rs.SetRibbon(ctx, cargs[0]); err == nil {
			res = done{Done: "ribbon set to " + cargs[0]}
		}
	case "clean", "test-card", "self-adjust", "reset":
		if !needTech() {
			return 1
		}
		op := map[string]func(context.Context) error{"clean": tech.Clean, "test-card": tech.TestCard,
			"self-adjust": tech.SelfAdjust, "reset": tech.Reset}[cmd]
		if err = op(ctx); err == nil {
			res = done{Done: cmd}
		}
	case "print":
		err = calibrate(ctx, d, sides)
		if err == nil {
			res = done{Done: fmt.Sprintf("printed %d side(s) and ejected the card", len(sides))}
		}
	}
	if err != nil {
		out.fail(stderr, err)
		return 1
	}
	out.show(res)
	return 0
}

// ribbonSetter is a driver that can tell the printer its ribbon.
type ribbonSetter interface {
	SetRibbon(ctx context.Context, ribbon string) error
}

type done struct {
	Done string `json:"done"`
}

// queue is what diag uses of a print queue driver.
type queue interface {
	Queue(ctx context.Context) (ipp.QueueState, error)
	TestCard(ctx context.Context) error
	PrintCard(ctx context.Context, c ipp.Card) (ipp.Job, error)
}

// maxImage bounds a calibration image file: a card at 300 dpi is far less.
const maxImage = 32 << 20

func loadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxImage {
		return nil, fmt.Errorf("%s: %d bytes, more than a card image can be (%d)", path, st.Size(), maxImage)
	}
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PNG image: %w", path, err)
	}
	if cfg.Width > 4096 || cfg.Height > 4096 {
		return nil, fmt.Errorf("%s: %d×%d, expected a card image of 1016×648", path, cfg.Width, cfg.Height)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PNG image: %w", path, err)
	}
	return img, nil
}

// calibrate feeds a blank, prints the sides and ejects; on a failure after
// the feed it tries to put the card in the reject box.
func calibrate(ctx context.Context, d printer.Driver, sides []*raster.Panels) error {
	if err := d.Feed(ctx); err != nil {
		return err
	}
	for i, ps := range sides {
		if err := d.Print(ctx, printer.Side(i), ps); err != nil {
			if printer.KindOf(err) != printer.KindJam {
				if rerr := d.Reject(ctx); rerr == nil {
					return fmt.Errorf("%w (the card went to the reject box)", err)
				}
			}
			return err
		}
	}
	return d.Eject(ctx)
}

type output struct {
	w    io.Writer
	json bool
}

func (o *output) fail(stderr io.Writer, err error) {
	if o.json {
		e := map[string]any{"error": err.Error()}
		var pe *printer.Error
		if errors.As(err, &pe) {
			e["kind"] = pe.Kind.String()
			e["card"] = pe.Position.String()
		}
		json.NewEncoder(o.w).Encode(e)
		return
	}
	fmt.Fprintln(stderr, "diag printer:", err)
}

func (o *output) show(v any) {
	if o.json {
		enc := json.NewEncoder(o.w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
		return
	}
	tw := tabwriter.NewWriter(o.w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	switch v := v.(type) {
	case printer.Info:
		fmt.Fprintf(tw, "model\t%s\nserial number\t%s\nfirmware\t%s\n", v.Model, v.Serial, v.Firmware)
		if v.HeadKit != "" {
			fmt.Fprintf(tw, "head kit\t%s\n", v.HeadKit)
		}
		if v.DeviceID != "" {
			fmt.Fprintf(tw, "USB device id\t%s\n", v.DeviceID)
		}
		fmt.Fprintf(tw, "address\t%s (driver %s)\n", v.Addr, v.Driver)
	case printer.Status:
		state := "READY"
		if !v.Ready {
			state = "NOT READY"
		}
		fmt.Fprintf(tw, "state\t%s\n", state)
		fmt.Fprintf(tw, "card in printer\t%s\ncover open\t%s\nfeeder empty\t%s\nribbon finished\t%s\ncleaning needed\t%s\n",
			v.Card, yes(v.CoverOpen), yes(v.FeederEmpty), yes(v.RibbonOut), yes(v.NeedsCleaning))
		for _, p := range v.Problems {
			fmt.Fprintf(tw, "to do\t%s\n", p)
		}
	case printer.Counters:
		fmt.Fprintf(tw, "cards inserted\t%d\npanels printed\t%d\ncleanings\t%d\naverage cards between cleanings\t%d\nmost cards between cleanings\t%d\n",
			v.CardsInserted, v.PanelsPrinted, v.Cleanings, v.AvgCleaningFreq, v.MaxCleaningFreq)
		if v.RibbonLeft >= 0 {
			fmt.Fprintf(tw, "prints left on ribbon (estimate)\t%d\n", v.RibbonLeft)
		}
	case ipp.QueueState:
		state := strings.ToUpper(v.State)
		if _, why, bad := v.Fault(); bad {
			state += " — NOT READY: " + why
		}
		fmt.Fprintf(tw, "queue\t%s\nstate\t%s\nreasons\t%s\n", v.URI, state, strings.Join(v.Reasons, ", "))
		if v.Message != "" {
			fmt.Fprintf(tw, "message\t%s\n", v.Message)
		}
		fmt.Fprintf(tw, "accepting jobs\t%s\njobs waiting\t%d\n", yes(v.Accepting), v.Queued)
		if v.Model != "" {
			fmt.Fprintf(tw, "model\t%s\n", v.Model)
		}
		fmt.Fprintf(tw, "formats\t%s\nsides\t%s\n", strings.Join(v.Formats, ", "), strings.Join(v.Sides, ", "))
		if v.CardMedia != "" {
			fmt.Fprintf(tw, "card media\t%s\n", v.CardMedia)
		}
		if v.Sheets >= 0 {
			fmt.Fprintf(tw, "cards printed (queue's counter)\t%d\n", v.Sheets)
		}
		if v.Impressions >= 0 {
			fmt.Fprintf(tw, "impressions (queue's counter)\t%d\n", v.Impressions)
		}
		if len(v.Markers) == 0 {
			fmt.Fprintf(tw, "markers\tnone reported\n")
		}
		for _, m := range v.Markers {
			lvl := fmt.Sprintf("%d%%", m.Level)
			if m.Level < 0 {
				lvl = "unknown"
			}
			fmt.Fprintf(tw, "marker %s (%s)\t%s\n", m.Name, m.Type, lvl)
		}
	case []printer.Sensor:
		fmt.Fprintf(tw, "sensor\tvolts\treading\n")
		for _, s := range v {
			fmt.Fprintf(tw, "%s (%s)\t%.2f\t%s\n", s.Name, s.Code, s.Volts, s.Reading)
		}
	case done:
		fmt.Fprintf(tw, "%s: done\n", strings.TrimSpace(v.Done))
	case ProbeReport:
		v.Text(tw)
	default:
		fmt.Fprintf(tw, "%v\n", v)
	}
}

// withoutRecord is args less --record FILE: what a replay runs again.
func withoutRecord(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--record" || a == "-record":
			i++
		case strings.HasPrefix(a, "--record=") || strings.HasPrefix(a, "-record="):
		default:
			out = append(out, a)
		}
	}
	return out
}
