package ctlcmd

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"

	"printstation/station/localapi"
)

// stockReport runs the stock commands that report to the centre:
// announce, request and requests. It reports whether args were one.
func (c *cli) stockReport(args []string) (bool, error) {
	if len(args) == 0 {
		return false, nil
	}
	switch args[0] {
	case "announce":
		fs := flag.NewFlagSet("stock announce", flag.ContinueOnError)
		fs.SetOutput(c.errw)
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
			return true, usageErr("stock announce")
		}
		var res struct {
			Report localapi.CentreReport `json:"report"`
			Fresh  bool                  `json:"fresh"`
		}
		if err := c.client.Do(c.ctx, "POST", "/v1/stock/announce", map[string]string{}, &res); err != nil {
			return true, err
		}
		return true, c.emit(res, func(w io.Writer) {
			if !res.Fresh {
				fmt.Fprintf(w, "today's stock (%s) was already announced with these figures: ", res.Report.Day)
			} else {
				fmt.Fprintf(w, "today's stock (%s) announced: ", res.Report.Day)
			}
			writeReportState(w, res.Report)
		})
	case "request":
		fs := flag.NewFlagSet("stock request", flag.ContinueOnError)
		fs.SetOutput(c.errw)
		qty := fs.Int64("quantity", 0, "blanks to ask the centre for")
		note := fs.String("note", "", "a line for the centre (optional)")
		id := fs.String("id", "", "the request's id (8-64 letters, digits, - or _); run again with the same id, it is the same request, never a second one (default: a new id)")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
			return true, usageErr("stock request --quantity N [--note TEXT] [--id ID]")
		}
		if *qty <= 0 {
			return true, usageErr("stock request --quantity N: how many blanks, 1 or more")
		}
		if *id == "" {
			b := make([]byte, 12)
			rand.Read(b)
			*id = "cli-" + hex.EncodeToString(b)
		}
		var rep localapi.CentreReport
		if err := c.client.Do(c.ctx, "POST", "/v1/stock/requests", localapi.BlankRequest{ID: *id, Quantity: *qty, Note: *note, Actor: c.actor}, &rep); err != nil {
			return true, err
		}
		return true, c.emit(rep, func(w io.Writer) {
			fmt.Fprintf(w, "request %s for %d blanks: ", *id, *qty)
			writeReportState(w, rep)
			if r := rep.Request; r != nil {
				writeForecast(w, r.Forecast)
			}
		})
	case "requests":
		fs := flag.NewFlagSet("stock requests", flag.ContinueOnError)
		fs.SetOutput(c.errw)
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
			return true, usageErr("stock requests")
		}
		var res struct {
			Forecast localapi.Forecast       `json:"forecast"`
			Requests []localapi.CentreReport `json:"requests"`
		}
		if err := c.client.Do(c.ctx, "GET", "/v1/stock/requests", nil, &res); err != nil {
			return true, err
		}
		return true, c.emit(res, func(w io.Writer) {
			writeForecast(w, res.Forecast)
			for _, r := range res.Requests {
				if q := r.Request; q != nil {
					fmt.Fprintf(w, "%s  %s  %d blanks by %s: ", r.CreatedAt.Local().Format("2006-01-02 15:04"), q.ID, q.Quantity, q.Actor)
				}
				writeReportState(w, r)
			}
		})
	}
	return false, nil
}

func writeReportState(w io.Writer, r localapi.CentreReport) {
	switch r.State {
	case "acknowledged":
		fmt.Fprintf(w, "acknowledged by the centre, reference %s\n", r.Ref)
	case "refused":
		fmt.Fprintf(w, "REFUSED by the centre: %s\n", r.Refused)
	default:
		fmt.Fprintf(w, "waiting for the centre (queued, sent when the link answers; %d tries so far)\n", r.Attempts)
	}
}

func writeForecast(w io.Writer, f localapi.Forecast) {
	if f.DaysLeft < 0 {
		fmt.Fprintf(w, "forecast: %d blanks ready; no use in the last %d days to estimate from\n", f.Available, f.WindowDays)
		return
	}
	fmt.Fprintf(w, "forecast: %d blanks ready, %d used in the last %d days (%.1f a day): about %.1f days left\n", f.Available, f.Used, f.WindowDays, f.PerDay, f.DaysLeft)
}
