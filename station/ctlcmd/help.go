package ctlcmd

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"printstation/card/previewcmd"
	"printstation/chip/diagcmd"
	"printstation/internal/clidoc"
	"printstation/inventory/auditcmd"
	printerdiag "printstation/printer/diagcmd"
	"printstation/version"
)

// command is one subcommand as --help, the man page and the completion
// know it. Its flags are not listed here: help runs the subcommand itself
// with --help and shows what its flag set prints.
type command struct {
	words   string
	args    string
	summary string
	daemon  bool // talks to the running daemon
}

var commands = []command{
	{"status", "[--watch]", "Printers, batches, queue, stock and the link to the centre. --watch redraws on every change (text only).", true},
	{"version", "", "The client's version and the running daemon's.", true},
	{"batch list", "", "Batches with their state and progress.", true},
	{"batch start", "BATCH", "Start printing a batch.", true},
	{"batch pause", "BATCH", "Stop feeding blanks for a batch; the card in flight is finished.", true},
	{"batch resume", "BATCH", "Go on with a paused batch.", true},
	{"batch cancel", "BATCH --reason TEXT", "Cancel a batch (a supervisor): its jobs not yet printed are reported as not printed; the people log keeps the reason.", true},
	{"attention list", "", "Jobs that wait for a person, and why.", true},
	{"attention confirm", "JOB --reason TEXT", "Confirm that an uncertain card came out good (a supervisor; the chip is read back first).", true},
	{"attention spoil", "JOB --reason TEXT", "Record an uncertain card as spoiled (a supervisor); the job goes back to the queue.", true},
	{"attention retry", "JOB", "Send a job that used up its attempts back to the queue.", true},
	{"printer resume", "PRINTER", "Let a paused printer go on after fixing a jam, the cover, the ribbon...", true},
	{"printer health", "[--lang id|en] PRINTER", "A printer's model, ribbon, counters, cleaning against the station's policy, sensors and encoder; what to do now and the buttons allowed.", true},
	{"printer guide", "[--lang id|en] [KEY]", "The guidance table the page shares: for every printer state and code, what a person sees and which actions are allowed.", true},
	{"outbox", "[--limit N]", "What has not reached the centre yet: outcomes, checkpoints and stock reports, oldest first.", true},
	{"offline-start", "--reason TEXT", "After a restart while the centre is unreachable, print without its confirmation of the ledger (supervisors; recorded; checked again when the centre answers).", true},
	{"enrol", "--reason TEXT", "Re-enrol a station whose database does not extend what the centre witnessed (admins; recorded by the station and the centre).", true},
	{"stock show", "", "Blanks in storage and in each printer, spoiled ones awaiting destruction, days left.", true},
	{"stock receive", "--quantity N --ref DELIVERY [--serial-first S --serial-last S]", "Record a delivery of blanks into storage.", true},
	{"stock load", "--printer P --quantity N", "Record blanks moved from storage into a printer's feeder.", true},
	{"stock unload", "--printer P --quantity N", "Record blanks taken out of a printer back into storage.", true},
	{"stock spoil", "--quantity N", "Record blanks found damaged in storage: they await destruction.", true},
	{"stock destroy", "--quantity N [--uids U1,U2] --witness W --ref MINUTES", "Record the destruction of spoiled cards by you and a witness W, who types their own secret in the same command.", true},
	{"stock adjust", "--location storage|printer:P --quantity ±N --witness W --reason TEXT", "Correct a count, approved by you and a witness W who types their own secret.", true},
	{"stock shift-close", "--counted storage=N,printer:p1=N --witness W", "Record the counts at the end of a shift, witnessed by W who types their own secret.", true},
	{"stock announce", "", "Announce today's blank stock to the centre (a supervisor): received, loaded, used, spoiled, destroyed, on hand. Queued and sent when the link answers; the same figures twice are one announcement.", true},
	{"stock request", "--quantity N [--note TEXT] [--id ID]", "Ask the centre for more blanks (a supervisor), with the forecast of days left at the last 7 days' use. Queued, retried until the centre acknowledges it with its reference; one id is one request.", true},
	{"stock requests", "", "The forecast and the requests for blanks: acknowledged with the centre's reference, or waiting for the centre.", true},
	{"user add", "--role ROLE[,ROLE] NAME", "Make an account (an admin; root on the station makes the first admin). The secret is read from the terminal or stdin.", true},
	{"user list", "", "The accounts, their roles, whether disabled or locked, and their Unix uids.", true},
	{"user disable", "NAME", "Disable an account: it cannot sign in, its page sessions end.", true},
	{"user enable", "NAME", "Enable a disabled account.", true},
	{"user unlock", "NAME", "Unlock an account locked after wrong secrets (the unlock is logged).", true},
	{"user passwd", "NAME", "Set an account's secret (an admin, or the account itself).", true},
	{"user roles", "--role ROLE[,ROLE] NAME", "Replace an account's roles.", true},
	{"user map-uid", "NAME UID", "Let Unix user UID act as account NAME through the socket.", true},
	{"user unmap-uid", "UID", "Remove a Unix user's account mapping.", true},
	{"tls fingerprint", "--cert FILE", "The SHA-256 fingerprint of the web page's certificate, to compare with the browser's.", false},
	{"diag printer", "--printer ADDR [--json] COMMAND", "Talk to a printer directly (stop the daemon first for a USB printer).", false},
	{"diag reader", "[--reader PATTERN] [--write-test] [--json]", "List the PC/SC readers; with a card, its ATR, UID and timing.", false},
	{"card check", "-template FILE", "Validate a card template.", false},
	{"card render", "[-template F] [-fields F] [-photo F] -out P.png", "Render a card preview.", false},
	{"datakey create", "FILE", "Create a new station data key (personal data at rest), mode 0600.", false},
	{"ledgerkey create", "FILE STATION_ID", "Create a ledger signing key (FILE, mode 0600) and its verifier key (FILE.pub).", false},
	{"audit verify", "--db FILE [--key VKEY] [--centre URL|FILE]", "Verify a copy of the station database's ledger, also against the centre's witness record.", false},
	{"audit reconcile", "--db FILE --from DATE --to DATE", "Reconcile the stock over a period.", false},
	{"audit export", "--db FILE --format csv|json [--log blanks|people]", "Export the ledger's events: the blanks, or the people log (sign-ins, accounts, actions).", false},
	{"completion", "bash", "Print the bash completion script.", false},
	{"help", "[COMMAND...] [--man]", "This overview, a command's help, or the man page (--man).", false},
}

// isHelp reports whether a is a request for help.
func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

// lookup finds the command named by the leading words of args.
func lookup(args []string) (command, bool) {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	for n := len(words); n > 0; n-- {
		k := strings.Join(words[:n], " ")
		for _, c := range commands {
			if c.words == k {
				return c, true
			}
		}
	}
	return command{}, false
}

// helpText is what `printstationctl WORDS --help` prints: the synopsis and
// summary, then the subcommand's own flag help, captured from the
// subcommand run with --help (so it lists the flags it really parses).
func (c *cli) helpText(cmd command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: printstationctl %s %s\n\n%s\n", cmd.words, cmd.args, cmd.summary)
	if own := c.ownHelp(cmd); own != "" {
		b.WriteString("\n" + own)
	}
	return b.String()
}

// ownHelp runs the subcommand with --help and returns what it printed.
func (c *cli) ownHelp(cmd command) string {
	var buf bytes.Buffer
	ws := strings.Fields(cmd.words)
	sub := append(ws[1:], "--help")
	switch ws[0] {
	case "diag":
		if ws[1] == "printer" {
			printerdiag.Main(c.ctx, []string{"--help"}, &buf, &buf)
		} else {
			diagcmd.Main(c.ctx, []string{"--help"}, &buf, &buf)
		}
	case "card":
		previewcmd.Main(c.ctx, sub, &buf, &buf)
	case "audit":
		auditcmd.Main(c.ctx, sub, &buf, &buf)
	case "stock":
		if ws[1] != "show" {
			quiet := *c
			quiet.errw, quiet.out = &buf, io.Discard
			quiet.stock(sub)
		}
	}
	out := buf.String()
	// The flag package's header names the flag set, not the command.
	out = strings.TrimPrefix(out, "Usage of "+strings.Join(ws[1:], " ")+":\n")
	out = strings.TrimPrefix(out, "Usage of "+cmd.words+":\n")
	if i := strings.Index(out, "\nusage: printstationctl stock "); i >= 0 {
		out = out[:i+1]
	}
	return out
}

// help answers --help, `help ...` and `completion bash`; ok is false when
// args ask for none of them.
func (c *cli) help(args []string) (code int, ok bool) {
	if slices.ContainsFunc(args, isHelp) {
		if cmd, found := lookup(args); found {
			fmt.Fprint(c.out, c.helpText(cmd))
			return 0, true
		}
	}
	if len(args) > 0 && args[0] == "completion" {
		if len(args) != 2 || args[1] != "bash" {
			fmt.Fprintln(c.errw, "usage: printstationctl completion bash")
			return 2, true
		}
		c.completion(c.out)
		return 0, true
	}
	if len(args) > 0 && args[0] == "help" {
		args = args[1:]
		if slices.Contains(args, "--man") {
			c.manPage(c.out)
			return 0, true
		}
		if len(args) == 0 {
			fmt.Fprint(c.out, usage)
			return 0, true
		}
		args = append(args, "--help")
	}
	if !slices.ContainsFunc(args, isHelp) {
		return 0, false
	}
	cmd, found := lookup(args)
	if !found {
		if len(args) > 0 && !isHelp(args[0]) {
			if group := c.group(args[0]); group != "" {
				fmt.Fprint(c.out, group)
				return 0, true
			}
			fmt.Fprintf(c.errw, "printstationctl: unknown command %q\n%s", args[0], usage)
			return 2, true
		}
		fmt.Fprint(c.out, usage)
		return 0, true
	}
	fmt.Fprint(c.out, c.helpText(cmd))
	return 0, true
}

// group lists the commands under a first word (`stock --help`).
func (c *cli) group(word string) string {
	var b strings.Builder
	for _, cmd := range commands {
		if strings.HasPrefix(cmd.words, word+" ") {
			fmt.Fprintf(&b, "  printstationctl %s %s\n      %s\n", cmd.words, cmd.args, cmd.summary)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "usage:\n" + b.String() + "\nprintstationctl " + word + " SUBCOMMAND --help shows a subcommand's flags.\n"
}

func (c *cli) docCommands() []clidoc.Command {
	var out []clidoc.Command
	for _, cmd := range commands {
		if cmd.words == "help" || cmd.words == "completion" {
			out = append(out, clidoc.Command{Words: cmd.words, Args: cmd.args, Summary: cmd.summary, Help: func() string { return "" }})
			continue
		}
		out = append(out, clidoc.Command{Words: cmd.words, Args: cmd.args, Summary: cmd.summary, Help: func() string { return c.ownHelp(cmd) }})
	}
	return out
}

var globalFlags = []string{"--socket", "--json", "--actor"}

func (c *cli) completion(w io.Writer) {
	clidoc.Bash(w, "printstationctl", globalFlags, c.docCommands())
}

// ExitCodes are printstationctl's exit statuses (the man page and
// docs/CLI.md list them).
var ExitCodes = []clidoc.Item{
	{Term: "0", Text: "Done."},
	{Term: "1", Text: "The command failed: the daemon refused it, or a check found a problem (audit verify: the ledger does not verify). The reason is on standard error (and, with --json, in the JSON document's \"error\")."},
	{Term: "2", Text: "Bad usage: an unknown command, a missing or malformed argument."},
	{Term: "3", Text: "printstationd is not running: nothing answers on its socket."},
}

func (c *cli) manPage(w io.Writer) {
	global := usage[strings.Index(usage, "global flags:")+len("global flags:\n"):]
	clidoc.Page{
		Name:    "printstationctl",
		Section: "1",
		Title:   "operate, diagnose and audit an ID-card print station",
		Description: `printstationctl is the command line of the print room. Operators' commands talk to the running printstationd over its local socket (/run/printstation/printstationd.sock; members of the printstation-staff group may use it). Technicians' diagnostics drive printers and readers directly, and auditors' commands work on a copy of the station database with no daemon.

With --json every command writes exactly one JSON document to standard output, also when it fails ({"error": "...", "exit": N}); progress and messages go to standard error. Every command takes --help.`,
		Options:     global,
		Commands:    c.docCommands(),
		ExitStatus:  ExitCodes,
		Environment: []clidoc.Item{{Term: "PRINTSTATION_SOCKET", Text: "The daemon's socket, when --socket is not given."}},
		Files:       []clidoc.Item{{Term: "/run/printstation/printstationd.sock", Text: "The daemon's local API (group printstation-staff)."}},
		SeeAlso:     []string{"printstationd(8)", "journalctl(1)"},
		Version:     version.Version,
		Date:        clidoc.BuildDate(),
	}.Man(w)
}
