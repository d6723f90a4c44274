// Package ctlcmd is printstationctl: the operators' commands against the
// daemon's local API, and the dispatch to the technicians' diagnostics and
// the auditors' commands.
package ctlcmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"printstation/card/previewcmd"
	"printstation/chip/diagcmd"
	"printstation/inventory"
	"printstation/inventory/auditcmd"
	"printstation/jobqueue"
	printerdiag "printstation/printer/diagcmd"
	"printstation/station/guide"
	"printstation/station/localapi"
	"printstation/version"
)

const usage = `usage: printstationctl [--socket PATH] [--json] COMMAND ...

operators (talk to the running printstationd):
  status [--watch]                          printers, batches, queue, stock
  version                                   client and daemon versions
  batch list
  batch start|pause|resume BATCH
  batch cancel BATCH --reason TEXT          supervisor; the log keeps the reason
  attention list                            jobs that wait for a person
  attention retry JOB
  attention confirm|spoil JOB --reason TEXT supervisor; the log keeps the reason
  printer resume PRINTER                    after fixing a jam, cover, ribbon...
  printer health PRINTER [--lang id|en]     model, ribbon, counters, cleaning, sensors,
                                            encoder; what to do and the buttons allowed
  printer guide [--lang id|en] [KEY]        every printer state and code: what a person
                                            sees and may do (the page's table)
  stock show
  stock receive --quantity N --ref DELIVERY [--serial-first S --serial-last S]
  stock load|unload --printer P --quantity N
  stock spoil --quantity N                  blanks found damaged in storage
  stock destroy --quantity N [--uids U1,U2] --witness W --ref MINUTES
  stock adjust --location storage|printer:P --quantity ±N --witness W --reason TEXT
  stock shift-close --counted storage=N,printer:p1=N --witness W
  stock announce                            supervisor: today's stock to the centre
  stock request --quantity N [--note TEXT]  supervisor: ask the centre for blanks
  stock requests                            the requests, acknowledged or waiting
      dual control: the witness W is a second person, who types their own
      secret when asked (or as the next line of stdin), in the same command

accounts (an admin; root on the station computer makes the first admin):
  user add --role ROLE[,ROLE] NAME          roles: operator, supervisor,
                                            technician, auditor, admin
  user list
  user disable|enable|unlock NAME
  user passwd NAME                          anyone may change their own
  user roles --role ROLE[,ROLE] NAME
  user map-uid NAME UID                     Unix user UID acts as NAME here
  user unmap-uid UID
      secrets (a password of 8+ characters or a PIN of 6+ digits) are read
      from the terminal, or from stdin, never from the command line
  tls fingerprint --cert FILE               the web page certificate's SHA-256

admins:
  enrol --reason TEXT                       re-enrol a station whose database does not extend
                                            what the centre witnessed (recorded at both ends)

technicians (with the daemon stopped; while it runs, diag printer goes through it):
  diag printer --printer ADDR [--json] info|status|counters|sensors|clean|test-card|reset|print FRONT.png [BACK.png]
  diag printer --printer NAME status|counters|sensors|test-card|clean|record-cleaning|self-adjust|reader-test|probe
                                            through the running daemon (technicians; a test card is in the
                                            ledger, a cleaning is recorded; refused while a card prints)
  diag reader [--reader PATTERN] [--write-test] [--json]

card templates:
  card check -template FILE                 validate a card template
  card render [-template F] [-fields F] [-photo F] -out P.png   preview a card

setup:
  datakey create FILE                       a new station data key (personal data at rest)
  ledgerkey create FILE STATION_ID          a new ledger signing key (FILE) and its verifier key (FILE.pub)

auditors (on a copy of the database, no daemon):
  audit verify --db FILE [--key VKEY]
  audit reconcile --db FILE --from DATE --to DATE [--physical ...] [--counters ...]
  audit export --db FILE --format csv|json

global flags:
  --socket PATH   the daemon's socket (default $PRINTSTATION_SOCKET or /run/printstation/printstationd.sock)
  --json          machine-readable output
  --user NAME     act as account NAME: its secret is read from the terminal or
                  stdin. Without it you act as the account an admin mapped to
                  your Unix user (printstationctl user map-uid).
`

type cli struct {
	ctx    context.Context
	out    io.Writer
	errw   io.Writer
	json   bool
	actor  string // the old --actor: sent only when given, and must match
	client *localapi.Client
	in     *secretReader
	// emitted: the one JSON document of this run is out (--json).
	emitted bool
}

// Main runs printstationctl with args (without the program name).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("printstationctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	defSock := os.Getenv("PRINTSTATION_SOCKET")
	if defSock == "" {
		defSock = localapi.SocketPath("/run/printstation")
	}
	sock := fs.String("socket", defSock, "daemon socket")
	asJSON := fs.Bool("json", false, "JSON output")
	actor := fs.String("actor", "", "deprecated: accepted only when it names the account you act as")
	userName := fs.String("user", "", "act as this account (its secret is read from the terminal or stdin)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// Subcommands take --json after their name too.
	rest, j := takeBool(rest, "--json")
	c := &cli{ctx: ctx, out: stdout, errw: stderr, json: *asJSON || j, actor: *actor, client: localapi.NewClient(*sock), in: newSecretReader(Stdin, stderr)}
	if code, ok := c.help(rest); ok {
		return code
	}
	// diag printer goes through a running daemon, as the signed-in account.
	viaDaemon := len(rest) > 1 && rest[0] == "diag" && rest[1] == "printer"
	if *userName != "" && (needsDaemon(rest[0]) || viaDaemon) {
		secret, err := c.in.read(fmt.Sprintf("secret for %s: ", *userName))
		if err != nil {
			fmt.Fprintln(stderr, "printstationctl:", err)
			return 1
		}
		c.client.SignAs(*userName, secret)
	}
	var err error
	switch rest[0] {
	case "status":
		err = c.status(rest[1:])
	case "version":
		err = c.version()
	case "batch":
		err = c.batch(rest[1:])
	case "attention":
		err = c.attention(rest[1:])
	case "printer":
		err = c.printer(rest[1:])
	case "stock":
		err = c.stock(rest[1:])
	case "user":
		err = c.user(rest[1:])
	case "tls":
		err = c.tls(rest[1:])
	case "enrol":
		err = c.enrol(rest[1:])
	case "offline-start":
		err = c.offlineStart(rest[1:])
	case "diag":
		if len(rest) < 2 {
			err = usageErr("diag printer|reader ...")
			break
		}
		sub := rest[2:]
		if c.json {
			sub = append([]string{"--json"}, sub...)
		}
		switch rest[1] {
		case "printer":
			// A printer the daemon drives is never driven behind its
			// back: while it runs, diag goes through it or is refused.
			if done, code := c.diagThroughDaemon(rest[2:]); done {
				return code
			}
			return c.delegate(printerdiag.Main, sub)
		case "reader":
			return c.delegate(diagcmd.Main, sub)
		}
		err = usageErr(fmt.Sprintf("diag printer|reader ... (not %q)", rest[1]))
	case "card":
		sub := rest[1:]
		if c.json && len(sub) > 0 {
			sub = append([]string{sub[0], "--json"}, sub[1:]...)
		}
		return c.delegate(previewcmd.Main, sub)
	case "outbox":
		err = c.outbox(rest[1:])
	case "datakey":
		if len(rest) != 3 || rest[1] != "create" {
			err = usageErr("datakey create FILE")
			break
		}
		if _, err := jobqueue.CreateDataKey(rest[2]); err != nil {
			fmt.Fprintln(stderr, "printstationctl datakey:", err)
			c.jsonError(err, 1)
			return 1
		}
		c.emit(map[string]string{"created": rest[2], "mode": "0600"}, func(w io.Writer) {
			fmt.Fprintf(w, "created the station data key %s (mode 0600); point keys.data_key at it or load it as the systemd credential printstation-data-key\n", rest[2])
		})
		return 0
	case "ledgerkey":
		if len(rest) != 4 || rest[1] != "create" {
			err = usageErr("ledgerkey create FILE STATION_ID")
			break
		}
		if _, serr := os.Stat(rest[2]); serr == nil {
			err := fmt.Errorf("%s exists; a station keeps its ledger key for life", rest[2])
			fmt.Fprintln(stderr, "printstationctl ledgerkey:", err)
			c.jsonError(err, 1)
			return 1
		}
		if _, _, err := inventory.LoadOrCreateSigner(rest[2], "printstation/"+rest[3]); err != nil {
			fmt.Fprintln(stderr, "printstationctl ledgerkey:", err)
			c.jsonError(err, 1)
			return 1
		}
		c.emit(map[string]string{"created": rest[2], "verifier_key": rest[2] + ".pub", "mode": "0600"}, func(w io.Writer) {
			fmt.Fprintf(w, "created the ledger signing key %s (mode 0600) and its verifier key %s.pub; encrypt the key as the systemd credential printstation-ledger-key (README) and delete this file\n", rest[2], rest[2])
		})
		return 0
	case "audit":
		sub := rest[1:]
		if c.json && len(sub) > 0 {
			sub = append([]string{sub[0], "--json"}, sub[1:]...)
		}
		return c.delegate(auditcmd.Main, sub)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "printstationctl: unknown command %q\n%s", rest[0], usage)
		c.jsonError(fmt.Errorf("unknown command %q (printstationctl help lists them)", rest[0]), 2)
		return 2
	}
	if err != nil {
		var ue usageErr
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "usage: printstationctl", string(ue))
			c.jsonError(err, 2)
			return 2
		}
		code := 1
		if errors.Is(err, localapi.ErrNoDaemon) {
			code = 3
		}
		fmt.Fprintln(stderr, "printstationctl:", err)
		c.jsonError(err, code)
		return code
	}
	return 0
}

// jsonError makes a failed command's stdout still one JSON document under
// --json (unless the command already wrote its document): scripts parse
// stdout either way and read the exit status.
func (c *cli) jsonError(err error, code int) {
	if !c.json || c.emitted {
		return
	}
	c.emitted = true
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	enc.Encode(map[string]any{"error": err.Error(), "exit": code})
}

type usageErr string

func (u usageErr) Error() string { return string(u) }

func takeBool(args []string, name string) ([]string, bool) {
	out := args[:0:0]
	found := false
	for _, a := range args {
		if a == name {
			found = true
			continue
		}
		out = append(out, a)
	}
	return out, found
}

func (c *cli) emit(v any, text func(w io.Writer)) error {
	if c.json {
		c.emitted = true
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(c.out)
	return nil
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func (c *cli) version() error {
	var v map[string]string
	derr := c.client.Do(c.ctx, "GET", "/v1/version", nil, &v)
	out := map[string]string{"client": version.Version}
	if derr == nil {
		out["daemon"] = v["version"]
		out["station"] = v["station"]
	} else {
		out["daemon_error"] = derr.Error()
	}
	c.emit(out, func(w io.Writer) {
		fmt.Fprintln(w, "printstationctl", version.Version)
		if derr == nil {
			fmt.Fprintf(w, "printstationd  %s (station %s)\n", v["version"], v["station"])
		}
	})
	return derr
}

func (c *cli) status(args []string) error {
	args, watch := takeBool(args, "--watch")
	if len(args) > 0 {
		return usageErr("status [--watch] [--json]")
	}
	if watch && c.json {
		// --json promises one document; a stream of them is /v1/events.
		return usageErr("status --json (once) or status --watch (text); not both")
	}
	show := func() error {
		var st localapi.StatusReport
		if err := c.client.Do(c.ctx, "GET", "/v1/status", nil, &st); err != nil {
			return err
		}
		return c.emit(st, func(w io.Writer) { printStatus(w, st, watch) })
	}
	if err := show(); err != nil || !watch {
		return err
	}
	// Redraw on every engine event, and at least every few seconds.
	evs := make(chan struct{}, 1)
	go c.client.Stream(c.ctx, "/v1/events", func([]byte) error {
		select {
		case evs <- struct{}{}:
		default:
		}
		return nil
	})
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return nil
		case <-evs:
		case <-t.C:
		}
		if err := show(); err != nil {
			return err
		}
	}
}

func bar(done, total, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat(" ", width) + "]"
	}
	n := done * width / total
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func printStatus(w io.Writer, st localapi.StatusReport, clear bool) {
	if clear {
		fmt.Fprint(w, "\033[H\033[2J")
	}
	fmt.Fprintf(w, "station %s  printstationd %s  %s  up %s\n", st.Station, st.Version, st.State, st.Uptime)
	fmt.Fprintf(w, "central: %s\n\n", st.Central)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRINTER\tSTATE\tJOB\tPRINTED\tSPOILED\tLOADED\tMESSAGE")
	for _, p := range st.Printers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", p.Name, p.State, dash(p.Job), p.Printed, p.Spoiled, p.Loaded, p.Message)
	}
	tw.Flush()
	// What a person does about a stopped printer, in the page's words
	// (the guidance table, station/guide), and the buttons allowed.
	for _, p := range st.Printers {
		if p.CleaningSoon && p.Code != "cleaning_due" {
			fmt.Fprintf(w, "\n  %s: cleaning due soon (engine.clean_warn_cards reached): plan one before it stops by itself\n", p.Name)
		}
		if p.State == guide.StateIdle || p.State == guide.StatePrinting {
			continue
		}
		g := guide.For(p.State, p.Code)
		fmt.Fprintf(w, "\n  %s: %s\n      allowed: %s\n", p.Name, guideWords(cliLang(""), g), allowedText(g))
	}
	for _, p := range st.Printers {
		if p.Desk != nil && p.Desk.Step != "" {
			// The operator at a desk printer reads this from across the room.
			fmt.Fprintf(w, "\n  >>> %s: %s <<<\n", p.Name, strings.ToUpper(deskWords(p.Desk.Step)))
			if p.Desk.Message != "" {
				fmt.Fprintf(w, "      %s (job %s)\n", p.Desk.Message, p.Desk.Job)
			}
		}
	}
	if len(st.Batches) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BATCH\tSTATE\tPROGRESS\tPRINTED\tLEFT\tWAITING")
		for _, b := range st.Batches {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%d\n", b.ID, b.State, bar(b.Printed, b.Total, 20), b.Printed, b.Total, b.Remaining, b.Waiting)
		}
		tw.Flush()
	}
	if st.Stock != nil {
		fmt.Fprintf(w, "\nblanks: %d in storage", st.Stock.Storage)
		for _, p := range st.Printers {
			fmt.Fprintf(w, ", %d in %s", st.Stock.Printers[p.Name], p.Name)
		}
		fmt.Fprintf(w, "; %d consumed, %d spoiled awaiting destruction", st.Stock.Consumed, st.Stock.SpoiledAwaiting)
		if st.Stock.Low {
			fmt.Fprint(w, "  LOW STOCK")
		}
		fmt.Fprintln(w)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) batch(args []string) error {
	if len(args) == 0 {
		return usageErr("batch list | batch start|pause|resume|cancel BATCH")
	}
	if args[0] == "list" {
		var bs []localapi.BatchState
		if err := c.client.Do(c.ctx, "GET", "/v1/batches", nil, &bs); err != nil {
			return err
		}
		return c.emit(bs, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "BATCH\tSTATE\tTOTAL\tPRINTED\tLEFT\tWAITING")
			for _, b := range bs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", b.ID, b.State, b.Total, b.Printed, b.Remaining, b.Waiting)
			}
			tw.Flush()
		})
	}
	id, reason, err := c.targetAndReason("batch "+args[0], args[1:])
	if err != nil || len(args) < 2 {
		return usageErr("batch start|pause|resume BATCH | batch cancel BATCH --reason TEXT")
	}
	var res map[string]string
	if err := c.client.Do(c.ctx, "POST", "/v1/batches/"+id+"/"+args[0], c.body(reason), &res); err != nil {
		return err
	}
	return c.emit(res, func(w io.Writer) { fmt.Fprintf(w, "batch %s: %s done by %s\n", id, args[0], res["by"]) })
}

// targetAndReason reads "ID [--reason TEXT]" (the flag may come first).
func (c *cli) targetAndReason(name string, args []string) (string, string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.errw)
	reason := fs.String("reason", "", "why (cancel, confirm and spoil need one; the log keeps it)")
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", "", err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	} else if fs.NArg() != 0 || id == "" {
		return "", "", usageErr(name + " ID [--reason TEXT]")
	}
	return id, *reason, nil
}

// body is an action's request body: the reason, and the old --actor only
// when it was given (the daemon checks it names who signed in).
func (c *cli) body(reason string) map[string]string {
	b := map[string]string{}
	if reason != "" {
		b["reason"] = reason
	}
	if c.actor != "" {
		b["actor"] = c.actor
	}
	return b
}

func (c *cli) attention(args []string) error {
	if len(args) == 0 || args[0] == "list" {
		var as []localapi.Attention
		if err := c.client.Do(c.ctx, "GET", "/v1/attention", nil, &as); err != nil {
			return err
		}
		return c.emit(as, func(w io.Writer) {
			if len(as) == 0 {
				fmt.Fprintln(w, "no job waits for a person")
				return
			}
			for _, a := range as {
				fmt.Fprintf(w, "%s (batch %s, %s, printer %s): %s\n", a.Job, a.Batch, a.State, dash(a.Printer), a.Reason)
			}
		})
	}
	if len(args) < 2 {
		return usageErr("attention list | attention retry JOB | attention confirm|spoil JOB --reason TEXT")
	}
	job, reason, err := c.targetAndReason("attention "+args[0], args[1:])
	if err != nil {
		return usageErr("attention list | attention retry JOB | attention confirm|spoil JOB --reason TEXT")
	}
	var res map[string]string
	if err := c.client.Do(c.ctx, "POST", "/v1/attention/"+job+"/"+args[0], c.body(reason), &res); err != nil {
		return err
	}
	return c.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "job %s: %s recorded by %s", job, args[0], res["by"])
		if res["uid"] != "" {
			fmt.Fprintf(w, " (chip %s)", res["uid"])
		}
		fmt.Fprintln(w)
	})
}

// enrol is an admin's explicit re-enrolment: the daemon refuses to print
// from a database that does not extend what the centre witnessed, and this
// is the only way on, recorded in the new ledger and at the centre.
func (c *cli) enrol(args []string) error {
	fs := flag.NewFlagSet("enrol", flag.ContinueOnError)
	fs.SetOutput(c.errw)
	reason := fs.String("reason", "", "why the station starts a new ledger (recorded)")
	actor := fs.String("actor", c.actor, "the admin who re-enrols (recorded)")
	if err := fs.Parse(args); err != nil || *reason == "" || fs.NArg() != 0 {
		return usageErr(`enrol --reason "why the database was lost or replaced" [--actor NAME]`)
	}
	var res struct {
		Epoch          int64    `json:"epoch"`
		JobsInQuestion []string `json:"jobs_in_question"`
	}
	if err := c.client.Do(c.ctx, "POST", "/v1/enrolment", map[string]string{"actor": *actor, "reason": *reason}, &res); err != nil {
		return err
	}
	return c.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "re-enrolled: enrolment epoch %d recorded by the station and the centre; printing may resume\n", res.Epoch)
		if len(res.JobsInQuestion) > 0 {
			shown, more := res.JobsInQuestion, ""
			if len(shown) > 10 {
				shown, more = shown[:10], fmt.Sprintf(" and %d more (--json lists all)", len(res.JobsInQuestion)-10)
			}
			fmt.Fprintf(w, "the centre holds %d job(s) whose outcome it never received; it will not send them again until its operators decide: %s%s\n", len(res.JobsInQuestion), strings.Join(shown, ", "), more)
		}
	})
}

// offlineStart is a supervisor's recorded release of a station restarted
// while the centre cannot be asked whether its database is the one it
// witnessed.
func (c *cli) offlineStart(args []string) error {
	fs := flag.NewFlagSet("offline-start", flag.ContinueOnError)
	fs.SetOutput(c.errw)
	reason := fs.String("reason", "", "why printing cannot wait for the centre (recorded)")
	if err := fs.Parse(args); err != nil || *reason == "" || fs.NArg() != 0 {
		return usageErr(`offline-start --reason "why printing cannot wait for the centre"`)
	}
	var res map[string]string
	if err := c.client.Do(c.ctx, "POST", "/v1/witness/release", map[string]string{"actor": c.actor, "reason": *reason}, &res); err != nil {
		return err
	}
	return c.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "printing released without the centre by %s (recorded); the ledger is checked with the centre as soon as it answers, and held if it does not extend what the centre witnessed\n", res["by"])
	})
}

func (c *cli) printer(args []string) error {
	if len(args) > 0 && args[0] == "guide" {
		return c.printerGuide(args[1:])
	}
	if len(args) > 0 && args[0] == "health" {
		return c.printerHealth(args[1:])
	}
	if len(args) != 2 || args[0] != "resume" {
		return usageErr("printer resume|health PRINTER, printer guide [KEY]")
	}
	var res map[string]string
	if err := c.client.Do(c.ctx, "POST", "/v1/printers/"+args[1]+"/resume", map[string]string{}, &res); err != nil {
		return err
	}
	return c.emit(res, func(w io.Writer) { fmt.Fprintf(w, "printer %s resumed\n", args[1]) })
}

func (c *cli) stock(args []string) error {
	if done, err := c.stockReport(args); done {
		return err
	}
	if len(args) == 0 || args[0] == "show" {
		var s localapi.StockState
		if err := c.client.Do(c.ctx, "GET", "/v1/stock", nil, &s); err != nil {
			return err
		}
		return c.emit(s, func(w io.Writer) {
			fmt.Fprintf(w, "storage %d\n", s.Storage)
			for name, n := range s.Printers {
				fmt.Fprintf(w, "printer %s %d\n", name, n)
			}
			fmt.Fprintf(w, "consumed %d\nspoiled awaiting destruction %d\n", s.Consumed, s.SpoiledAwaiting)
			if s.DaysLeft > 0 {
				fmt.Fprintf(w, "about %.1f days left at the recent rate\n", s.DaysLeft)
			}
			if s.Low {
				fmt.Fprintln(w, "LOW STOCK: order blanks")
			}
		})
	}
	fs := flag.NewFlagSet("stock "+args[0], flag.ContinueOnError)
	fs.SetOutput(c.errw)
	qty := fs.Int64("quantity", 0, "number of blank cards")
	ref := fs.String("ref", "", "delivery reference (receive)")
	sf := fs.String("serial-first", "", "first serial of the delivery (optional)")
	sl := fs.String("serial-last", "", "last serial of the delivery (optional)")
	pr := fs.String("printer", "", "printer name (load, unload)")
	var witnesses multi
	fs.Var(&witnesses, "witness", "destroy, adjust, shift-close: the second person, who signs in with their secret")
	fs.Var(&witnesses, "approver", "adjust: the same as --witness")
	uids := fs.String("uids", "", "destroy: chip UIDs of the destroyed cards, comma-separated")
	recRef := fs.String("record-ref", "", "destroy: reference of the destruction record")
	loc := fs.String("location", "", "adjust: storage or printer:NAME")
	reason := fs.String("reason", "", "adjust: why")
	counted := fs.String("counted", "", "shift-close: counted cards per location, e.g. storage=120,printer:p1=40")
	if err := fs.Parse(args[1:]); err != nil {
		return usageErr("stock receive|load|unload|spoil|destroy|adjust|shift-close ...")
	}
	if args[0] == "destroy" && *recRef == "" {
		*recRef = *ref
	}
	if args[0] != "shift-close" && args[0] != "adjust" && *qty <= 0 && *uids == "" {
		return errors.New("--quantity must be a positive number of cards")
	}
	op := localapi.StockOp{Op: args[0], Quantity: *qty, Printer: *pr, DeliveryRef: *ref, SerialFirst: *sf, SerialLast: *sl, Actor: c.actor,
		RecordRef: *recRef, Location: *loc, Reason: *reason}
	if dualControl(args[0]) {
		// Dual control: the second person signs in in this same command.
		if len(witnesses) != 1 {
			return fmt.Errorf("stock %s is dual control: name the second person once with --witness NAME; they type their own secret when asked", args[0])
		}
		secret, err := c.in.read(fmt.Sprintf("secret for the witness %s: ", witnesses[0]))
		if err != nil {
			return err
		}
		c.client.Witness(witnesses[0], secret)
	} else if len(witnesses) > 0 {
		return fmt.Errorf("stock %s takes no witness", args[0])
	}
	if *uids != "" {
		op.UIDs = strings.Split(*uids, ",")
	}
	if *counted != "" {
		op.Counted = map[string]int64{}
		for _, kv := range strings.Split(*counted, ",") {
			k, v, ok := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if !ok || err != nil || n < 0 {
				return fmt.Errorf("--counted %q: expected LOCATION=N pairs, e.g. storage=120,printer:p1=40", kv)
			}
			op.Counted[strings.TrimSpace(k)] = n
		}
	}
	var res map[string]any
	if err := c.client.Do(c.ctx, "POST", "/v1/stock", op, &res); err != nil {
		return err
	}
	return c.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "recorded: %s %d (ledger event %v)\n", args[0], *qty, res["seq"])
	})
}

// diagThroughDaemon runs diag printer through a running daemon, or refuses
// it: the daemon holds the station's printers, and a second connection
// behind its back would move cards the ledger does not know about. It
// reports whether it handled the command, and the exit code.
func (c *cli) diagThroughDaemon(args []string) (bool, int) {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	var st localapi.StatusReport
	err := c.client.Do(ctx, "GET", "/v1/status", nil, &st)
	cancel()
	if errors.Is(err, localapi.ErrNoDaemon) {
		return false, 0
	}
	if err != nil {
		fmt.Fprintf(c.errw, "printstationctl diag printer: printstationd answers on %s but its status could not be read (%v); a printer it drives is not driven behind its back: stop it first (systemctl stop printstationd)\n", c.client.Socket, err)
		return true, 1
	}
	var name, op string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--printer" && i+1 < len(args):
			name = args[i+1]
			i++
		case strings.HasPrefix(a, "--printer="):
			name = strings.TrimPrefix(a, "--printer=")
		case strings.HasPrefix(a, "-"):
		case op == "":
			op = a
		}
	}
	known := false
	var names []string
	for _, p := range st.Printers {
		names = append(names, p.Name)
		known = known || p.Name == name
	}
	allowed := op == "status" || op == "counters" || op == "sensors"
	for _, a := range guide.TechActions {
		allowed = allowed || string(a) == op
	}
	if !known || !allowed {
		fmt.Fprintf(c.errw, "printstationctl diag printer: printstationd is running and drives this station's printers (%s); a printer it drives is never driven behind its back.\n"+
			"  through the daemon: printstationctl diag printer --printer NAME status|counters|sensors|test-card|clean|record-cleaning|self-adjust|reader-test|probe (NAME as in printstationctl status)\n"+
			"  for %q and the other operations: stop the daemon first (systemctl stop printstationd)\n", strings.Join(names, ", "), op)
		return true, 1
	}
	var res any
	if err := c.client.Do(c.ctx, "POST", "/v1/printers/"+name+"/diag/"+op, map[string]string{"actor": c.actor}, &res); err != nil {
		fmt.Fprintf(c.errw, "printstationctl diag printer %s %s: %v\n", name, op, err)
		return true, 1
	}
	if err := c.emit(res, func(w io.Writer) {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintf(w, "printer %s %s (through printstationd):\n%s\n", name, op, b)
	}); err != nil {
		fmt.Fprintln(c.errw, err)
		return true, 1
	}
	return true, 0
}

// deskWords names a desk step for the operator.
func deskWords(step string) string {
	switch step {
	case "place_blank":
		return "place a blank card on the desk reader"
	case "writing":
		return "writing the chip — leave the card on the reader"
	case "to_feed":
		return "put the card in the printer's manual feed"
	case "printing":
		return "printing the face"
	case "tap_back":
		return "tap the printed card on the desk reader"
	case "put_aside":
		return "take the card off the reader"
	}
	return step
}
