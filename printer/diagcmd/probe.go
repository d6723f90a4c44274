package diagcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"printstation/printer"
)

// rawReader is what probe needs beyond printer.Driver: one read command's
// reply as the printer sent it (evolis.Driver.ReadRaw).
type rawReader interface {
	ReadRaw(ctx context.Context, cmd string, params ...string) (string, error)
}

// probeReads are the guide's read commands (A5013 rev. E, R commands pages
// 31–38) that tell us something about a printer in the field: identity,
// settings, counters, ribbon, card, cleaning and every sensor. None of them
// moves a card or changes a setting.
var probeReads = [][]string{
	{"Rtp"}, {"Rsn"}, {"Rfv"}, {"Rkn"}, {"Rck"}, {"Rr"}, {"Rem"}, {"Rmi"},
	{"Rco", "c"}, {"Rco", "p"}, {"Rco", "a"}, {"Rco", "m"}, {"Rco", "n"}, {"Rco", "l"},
	{"Rcr"}, {"Rlr", "p"}, {"Rlr", "r"},
	{"Rse", "c"}, {"Rse", "f"}, {"Rse", "m"}, {"Rse", "o"}, {"Rse", "p"}, {"Rse", "r"},
}

// probeRead is one command and what came back.
type probeRead struct {
	Command string `json:"command"`
	Reply   string `json:"reply,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ProbeReport is everything a technician sends back from a printer.
type ProbeReport struct {
	Driver   string            `json:"driver"`
	Addr     string            `json:"addr"`
	Reads    []probeRead       `json:"reads,omitempty"`
	Info     *printer.Info     `json:"info,omitempty"`
	Status   *printer.Status   `json:"status,omitempty"`
	Counters *printer.Counters `json:"counters,omitempty"`
	Sensors  []printer.Sensor  `json:"sensors,omitempty"`
	// Errors are what the driver could not make sense of, by step.
	Errors []string `json:"errors,omitempty"`
}

// Probe runs every read and the driver's own readings; a failure is
// written into the report, never the end of it.
func Probe(ctx context.Context, d printer.Driver, driver, addr string) ProbeReport {
	rep := ProbeReport{Driver: driver, Addr: addr}
	fail := func(step string, err error) { rep.Errors = append(rep.Errors, step+": "+err.Error()) }
	if rr, ok := d.(rawReader); ok {
		for _, c := range probeReads {
			pr := probeRead{Command: strings.Join(c, ";")}
			reply, err := rr.ReadRaw(ctx, c[0], c[1:]...)
			pr.Reply = reply
			if err != nil {
				var pe *printer.Error
				if errors.As(err, &pe) && pe.Detail != "" && pr.Reply == "" {
					pr.Reply = pe.Detail
				}
				pr.Error = printer.KindOf(err).String()
			}
			rep.Reads = append(rep.Reads, pr)
		}
	} else {
		rep.Errors = append(rep.Errors, fmt.Sprintf("the %s driver has no raw reads; only its own readings follow", driver))
	}
	if v, err := d.Info(ctx); err == nil {
		rep.Info = &v
	} else {
		fail("info", err)
	}
	if v, err := d.Status(ctx); err == nil {
		rep.Status = &v
	} else {
		fail("status", err)
	}
	if v, err := d.Counters(ctx); err == nil {
		rep.Counters = &v
	} else {
		fail("counters", err)
	}
	if tech, ok := d.(printer.Technician); ok {
		if v, err := tech.Sensors(ctx); err == nil {
			rep.Sensors = v
		} else {
			fail("sensors", err)
		}
	}
	return rep
}

func (r ProbeReport) Text(w io.Writer) {
	fmt.Fprintf(w, "printer\t%s (driver %s)\n\ncommand\treply\terror\n", r.Addr, r.Driver)
	for _, pr := range r.Reads {
		fmt.Fprintf(w, "%s\t%q\t%s\n", pr.Command, pr.Reply, pr.Error)
	}
	if r.Info != nil {
		fmt.Fprintf(w, "\nmodel\t%s\nserial number\t%s\nfirmware\t%s\nribbon\t%s\n", r.Info.Model, r.Info.Serial, r.Info.Firmware, r.Info.Ribbon)
	}
	if r.Status != nil {
		fmt.Fprintf(w, "ready\t%v\ncard in printer\t%s\n", r.Status.Ready, r.Status.Card)
		for _, p := range r.Status.Problems {
			fmt.Fprintf(w, "to do\t%s\n", p)
		}
	}
	if r.Counters != nil {
		fmt.Fprintf(w, "cards inserted\t%d\npanels printed\t%d\n", r.Counters.CardsInserted, r.Counters.PanelsPrinted)
	}
	for _, s := range r.Sensors {
		fmt.Fprintf(w, "sensor %s (%s)\t%.2f V\t%s\n", s.Name, s.Code, s.Volts, s.Reading)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "driver error\t%s\n", e)
	}
}
