package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"printstation/config"
	"printstation/internal/clidoc"
	"printstation/version"
)

type command struct {
	clidoc.Command
	flags func(io.Writer) *flag.FlagSet // nil: no flags
}

var commands = []command{
	{clidoc.Command{Words: "run", Args: "[--config FILE]", Summary: "Run the station: the engine, the local API socket for printstationctl, the print-room page and /metrics. Under systemd: Type=notify with a watchdog; SIGHUP reloads the config (what needs a restart is logged); SIGTERM finishes the card in flight and stops."},
		func(w io.Writer) *flag.FlagSet { fs, _ := runFlags(w); return fs }},
	{clidoc.Command{Words: "check-config", Args: "FILE", Summary: "Check a config file: every problem with its file:line (exit 1), or a one-line summary (exit 0)."}, nil},
	{clidoc.Command{Words: "network-allow", Args: "[--config FILE]", Summary: "Print a systemd drop-in with IPAddressAllow= for the central server and the Ethernet printers of the config (names resolved now). Write it to /etc/systemd/system/printstationd.service.d/network.conf and run systemctl daemon-reload."},
		func(w io.Writer) *flag.FlagSet { fs, _, _ := netFlags(w); return fs }},
	{clidoc.Command{Words: "version", Summary: "Print the version."}, nil},
	{clidoc.Command{Words: "help", Args: "[COMMAND] [--man]", Summary: "The overview, a command's help, or this man page."}, nil},
	{clidoc.Command{Words: "completion", Args: "bash", Summary: "Print the bash completion script."}, nil},
}

func (c command) help() string {
	if c.flags == nil {
		return ""
	}
	var b bytes.Buffer
	fs := c.flags(&b)
	fs.PrintDefaults()
	return b.String()
}

func docCommands() []clidoc.Command {
	var out []clidoc.Command
	for _, c := range commands {
		dc := c.Command
		dc.Help = c.help
		out = append(out, dc)
	}
	return out
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

// help answers --help, `help ...` and `completion bash`.
func help(args []string, stdout, stderr io.Writer) (int, bool) {
	// `COMMAND --help` (also for help and completion themselves).
	if len(args) > 1 && slices.ContainsFunc(args[1:], isHelp) {
		for _, c := range commands {
			if c.Words == args[0] {
				printHelp(stdout, c)
				return 0, true
			}
		}
	}
	switch {
	case args[0] == "completion":
		if len(args) != 2 || args[1] != "bash" {
			fmt.Fprintln(stderr, "usage: printstationd completion bash")
			return 2, true
		}
		clidoc.Bash(stdout, "printstationd", nil, docCommands())
		return 0, true
	case args[0] == "help" || isHelp(args[0]):
		rest := args[1:]
		if slices.Contains(rest, "--man") {
			manPage(stdout)
			return 0, true
		}
		if len(rest) == 0 {
			fmt.Fprint(stdout, usage)
			return 0, true
		}
		args = append(rest, "--help")
	}
	if !slices.ContainsFunc(args, isHelp) {
		return 0, false
	}
	for _, c := range commands {
		if c.Words == args[0] {
			printHelp(stdout, c)
			return 0, true
		}
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, usage)
		return 0, true
	}
	fmt.Fprintf(stderr, "printstationd: unknown command %q\n%s", args[0], usage)
	return 2, true
}

func manPage(w io.Writer) {
	clidoc.Page{
		Name:    "printstationd",
		Section: "8",
		Title:   "the ID-card print station daemon",
		Description: `printstationd drives a station's card printers and their chip encoders: it pulls signed jobs from the central server, prints and personalizes each card, keeps every blank card in an append-only ledger signed by the station and witnessed by the centre, and reports outcomes back. Operators use printstationctl(1) and the print-room web page.

It runs as the systemd service printstationd.service under its own user and group printstation, which owns the state directory /var/lib/printstation and (through the udev rule) the printers' USB devices. The local API socket belongs to the group printstation-staff.`,
		Commands: docCommands(),
		ExitStatus: []clidoc.Item{
			{Term: "0", Text: "Done; for run, a clean stop."},
			{Term: "1", Text: "Failed: a bad config file, or the station could not start or stopped with an error (the journal says why)."},
			{Term: "2", Text: "Bad usage."},
			{Term: "3", Text: "Another printstationd already runs on this storage directory."},
		},
		Environment: []clidoc.Item{
			{Term: "NOTIFY_SOCKET, WATCHDOG_USEC", Text: "Set by systemd: readiness, status and watchdog notifications."},
			{Term: "CREDENTIALS_DIRECTORY", Text: "Set by systemd: the station's keys as credentials printstation-data-key and printstation-ledger-key."},
		},
		Files: []clidoc.Item{
			{Term: config.DefaultPath, Text: "The station's configuration (root:printstation 0640)."},
			{Term: "/var/lib/printstation/station.db", Text: "The job queue and the blank-card ledger. Never removed by the package."},
			{Term: "/run/printstation/printstationd.sock", Text: "The local API for printstationctl (group printstation-staff)."},
			{Term: "/usr/share/doc/printstation/JOURNAL.md", Text: "The journal MESSAGE_IDs of the events worth an alert."},
			{Term: "/usr/share/doc/printstation/examples/alerts.yml", Text: "Prometheus alert rules for a fleet of stations."},
		},
		SeeAlso: []string{"printstationctl(1)", "systemd.exec(5)", "journalctl(1)"},
		Version: version.Version,
		Date:    clidoc.BuildDate(),
	}.Man(w)
}

func netFlags(out io.Writer) (*flag.FlagSet, *string, *multi) {
	fs := flag.NewFlagSet("network-allow", flag.ContinueOnError)
	fs.SetOutput(out)
	path := fs.String("config", config.DefaultPath, "station config file (TOML)")
	var prom multi
	fs.Var(&prom, "allow", "also allow this address or network (e.g. the Prometheus server that scrapes [metrics] listen); repeatable")
	return fs, path, &prom
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// networkAllow prints the unit drop-in that lets the daemon reach the
// centre and the Ethernet printers (the unit denies every other address).
func networkAllow(args []string, stdout, stderr io.Writer) int {
	fs, path, extra := netFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: printstationd network-allow [--config FILE] [--allow ADDR]...")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# /etc/systemd/system/printstationd.service.d/network.conf\n# Written by printstationd network-allow from %s.\n# Names were resolved when it was written: run it again when an address changes.\n[Service]\n", cfg.File)
	for _, p := range cfg.Peers() {
		ips, err := resolve(p.Host)
		if err != nil {
			fmt.Fprintf(stderr, "printstationd network-allow: %s (%s): %v; write its address in the config, or check DNS\n", p.Host, p.Why, err)
			return 1
		}
		for _, ip := range ips {
			fmt.Fprintf(&b, "# %s\nIPAddressAllow=%s\n", p.Why, ip)
		}
	}
	for _, a := range *extra {
		if _, _, err := net.ParseCIDR(a); err != nil && net.ParseIP(a) == nil {
			fmt.Fprintf(stderr, "printstationd network-allow: --allow %q: expected an IP address or a network like 10.20.0.0/16\n", a)
			return 2
		}
		fmt.Fprintf(&b, "# given with --allow\nIPAddressAllow=%s\n", a)
	}
	if h, _, err := net.SplitHostPort(cfg.Metrics.Listen); err == nil && h != "" && !net.ParseIP(h).IsLoopback() && h != "localhost" && len(*extra) == 0 {
		fmt.Fprintf(&b, "# [metrics] listens on %s: add the Prometheus server with --allow ADDR\n", cfg.Metrics.Listen)
	}
	fmt.Fprint(stdout, b.String())
	return 0
}

func resolve(host string) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{ip.String()}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addrs {
		out = append(out, a.IP.String())
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func printHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "usage: printstationd %s %s\n\n%s\n", c.Words, c.Args, c.Summary)
	if h := c.help(); h != "" {
		fmt.Fprint(w, "\n"+h)
	}
}
