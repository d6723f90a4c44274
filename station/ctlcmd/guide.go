package ctlcmd

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"printstation/station/guide"
	"printstation/station/localapi"
	"printstation/web/locales"
)

// cliLang is the language of the guidance words: --lang, else
// $PRINTSTATION_LANG, else Indonesian when $LANG says so, else English.
func cliLang(flagged string) string {
	for _, l := range []string{flagged, os.Getenv("PRINTSTATION_LANG")} {
		if l == "id" || l == "en" {
			return l
		}
	}
	if strings.HasPrefix(os.Getenv("LANG"), "id") {
		return "id"
	}
	return "en"
}

// checkLang refuses a --lang the catalogs do not have, rather than
// printing another language than the one asked for.
func checkLang(flagged string) error {
	if flagged != "" && flagged != "id" && flagged != "en" {
		return fmt.Errorf("--lang %q: use id (Bahasa Indonesia) or en", flagged)
	}
	return nil
}

// guideWords is what the page says for the row, in lang: the same catalog
// files the page reads (web/locales).
func guideWords(lang string, g guide.Guide) string {
	if s, ok := locales.Text(lang, g.Message); ok {
		return s
	}
	if s, ok := locales.Text("en", g.Message); ok {
		return s
	}
	return g.Message
}

func allowedText(g guide.Guide) string {
	if len(g.Allow) == 0 {
		return "nothing (wait)"
	}
	var out []string
	for _, a := range g.Allow {
		out = append(out, string(a))
	}
	return strings.Join(out, ", ")
}

// guideRow is a row as --json shows it.
type guideRow struct {
	Key     string   `json:"key"`
	Message string   `json:"message"`
	Words   string   `json:"words"`
	Tone    string   `json:"tone"`
	Allow   []string `json:"allow"`
	Kinds   []string `json:"driver_faults,omitempty"`
}

func rowOf(lang string, g guide.Guide) guideRow {
	r := guideRow{Key: g.Key, Message: g.Message, Words: guideWords(lang, g), Tone: g.Tone, Allow: []string{}}
	for _, a := range g.Allow {
		r.Allow = append(r.Allow, string(a))
	}
	for _, k := range g.Kinds {
		r.Kinds = append(r.Kinds, k.String())
	}
	return r
}

// printerGuide prints the guidance table (or one row): it needs no daemon.
func (c *cli) printerGuide(args []string) error {
	fs := flag.NewFlagSet("printer guide", flag.ContinueOnError)
	fs.SetOutput(c.errw)
	lang := fs.String("lang", "", "id (Bahasa Indonesia) or en; default $PRINTSTATION_LANG, else from $LANG")
	if err := fs.Parse(args); err != nil {
		return usageErr("printer guide [--lang id|en] [KEY]")
	}
	if fs.NArg() > 1 {
		return usageErr("printer guide [--lang id|en] [KEY]")
	}
	if err := checkLang(*lang); err != nil {
		return err
	}
	l := cliLang(*lang)
	var rows []guideRow
	for _, g := range guide.Guidance {
		if fs.NArg() == 1 && g.Key != fs.Arg(0) {
			continue
		}
		rows = append(rows, rowOf(l, g))
	}
	if len(rows) == 0 {
		return fmt.Errorf("no printer state or code %q in the guidance table (printstationctl printer guide lists them)", fs.Arg(0))
	}
	return c.emit(rows, func(w io.Writer) {
		for _, r := range rows {
			fmt.Fprintf(w, "%s\n  %s\n  allowed: %s\n", r.Key, r.Words, strings.Join(r.Allow, ", "))
			if len(r.Kinds) > 0 {
				fmt.Fprintf(w, "  driver faults: %s\n", strings.Join(r.Kinds, ", "))
			}
		}
	})
}

// printerHealth prints what the technician's page shows of a printer.
func (c *cli) printerHealth(args []string) error {
	fs := flag.NewFlagSet("printer health", flag.ContinueOnError)
	fs.SetOutput(c.errw)
	lang := fs.String("lang", "", "id (Bahasa Indonesia) or en; default $PRINTSTATION_LANG, else from $LANG")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return usageErr("printer health [--lang id|en] PRINTER")
	}
	if err := checkLang(*lang); err != nil {
		return err
	}
	var h localapi.PrinterHealth
	if err := c.client.Do(c.ctx, "GET", "/v1/printers/"+fs.Arg(0)+"/health", nil, &h); err != nil {
		return err
	}
	g := guide.For(h.State.State, h.State.Code)
	return c.emit(h, func(w io.Writer) { printHealth(w, h, g, cliLang(*lang)) })
}

func printHealth(w io.Writer, h localapi.PrinterHealth, g guide.Guide, lang string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "printer\t%s\nstate\t%s %s\nwhat to do\t%s\nallowed\t%s\n", h.Name, h.State.State, h.State.Code, guideWords(lang, g), allowedText(g))
	if h.Stale {
		fmt.Fprintf(tw, "readings\tthe last ones (%s): the printer is busy with a card\n", h.Read.Format("15:04:05"))
	}
	if i := h.Info; i != nil {
		fmt.Fprintf(tw, "model\t%s\nserial number\t%s\nfirmware\t%s\nribbon type\t%s\n", i.Model, i.Serial, i.Firmware, i.Ribbon)
	}
	fmt.Fprintf(tw, "ribbon serial/batch\tnot reported by this printer\n")
	if c := h.Counters; c != nil {
		left := "not reported"
		if c.RibbonLeft >= 0 {
			left = fmt.Sprint(c.RibbonLeft)
		}
		fmt.Fprintf(tw, "prints left on ribbon (estimate)\t%s\ncards inserted\t%d\npanels printed\t%d\ncleanings (printer's count)\t%d\n", left, c.CardsInserted, c.PanelsPrinted, c.Cleanings)
	}
	if c := h.Cleaning; c != nil {
		fmt.Fprintf(tw, "cards since last cleaning\t%d\ncleanings recorded by the station\t%d\n", c.Since, c.Recorded)
		if c.Last != nil {
			fmt.Fprintf(tw, "last cleaning\t%s (%s, by %s)\n", c.Last.At.Local().Format("2006-01-02 15:04"), c.Last.How, c.Last.Actor)
		}
		switch {
		case c.StopAt == 0:
			fmt.Fprintf(tw, "cleaning policy\toff\n")
		case c.Due:
			fmt.Fprintf(tw, "cleaning policy\twarn at %d, stop at %d: STOPPED FOR CLEANING\n", c.WarnAt, c.StopAt)
		case c.Soon:
			fmt.Fprintf(tw, "cleaning policy\twarn at %d, stop at %d: plan a cleaning\n", c.WarnAt, c.StopAt)
		default:
			fmt.Fprintf(tw, "cleaning policy\twarn at %d, stop at %d\n", c.WarnAt, c.StopAt)
		}
	}
	for _, s := range h.Sensors {
		fmt.Fprintf(tw, "sensor %s (%s)\t%.2f V\t%s\n", s.Name, s.Code, s.Volts, s.Reading)
	}
	if h.EncoderReader != "" {
		fmt.Fprintf(tw, "encoder reader\t%s\n", h.EncoderReader)
		if u := h.EncoderLast; u != nil {
			ok := "ok"
			if !u.OK {
				ok = "failed: " + u.Error
			}
			fmt.Fprintf(tw, "last chip write\t%s, %d APDUs in %.1f ms, ATR %s, %s\n", u.At.Local().Format("15:04:05"), u.APDUs, u.Millis, u.ATR, ok)
		}
	}
	for _, e := range h.Errors {
		fmt.Fprintf(tw, "could not read\t%s\n", e)
	}
}
