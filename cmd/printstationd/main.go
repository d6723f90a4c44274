// Command printstationd runs an ID-card print station under systemd.
//
//	printstationd run [--config FILE]        the daemon (Type=notify)
//	printstationd check-config FILE          print every problem, exit 1; or a summary
//	printstationd network-allow [FILE]       the unit's IPAddressAllow drop-in for this config
//	printstationd version
//	printstationd help [COMMAND] [--man] | completion bash
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"printstation/config"
	"printstation/logging"
	"printstation/station"
	"printstation/version"
	"printstation/web"

	_ "printstation/printer/all" // printer drivers and transports
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage: printstationd COMMAND [flags]

commands:
  run [--config FILE]     run the station (default config ` + config.DefaultPath + `)
  check-config FILE       check a config file: all problems, or a one-line summary
  network-allow [--config FILE]
                          print the unit's IPAddressAllow drop-in for the centre
                          and the Ethernet printers of a config
  version                 print the version
  help [COMMAND] [--man]  this text, a command's help, or the man page
  completion bash         the bash completion script

Every command takes --help. Exit status: 0 ok, 1 failed, 2 bad usage,
3 another printstationd already runs on this storage.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if code, ok := help(args, stdout, stderr); ok {
		return code
	}
	switch args[0] {
	case "run":
		return runDaemon(args[1:], stderr)
	case "network-allow":
		return networkAllow(args[1:], stdout, stderr)
	case "check-config":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: printstationd check-config FILE")
			return 2
		}
		cfg, err := config.Load(args[1])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, "ok:", cfg.Summary())
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, "printstationd", version.Version)
		return 0
	}
	fmt.Fprintf(stderr, "printstationd: unknown command %q\n%s", args[0], usage)
	return 2
}

// runFlags are run's flags; its --help and the man page print them.
func runFlags(out io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(out)
	path := fs.String("config", config.DefaultPath, "station config file (TOML)")
	return fs, path
}

func runDaemon(args []string, stderr io.Writer) int {
	fs, path := runFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)

	err = station.Run(ctx, station.Options{
		Config: cfg,
		Log:    log,
		HUP:    hup,
		Reload: func() (*config.Config, error) { return config.Load(*path) },
		// The print-room page starts once the engine is up; a page that
		// cannot listen is logged, and the station prints on without it.
		Ready: func(d *station.Daemon) {
			if cfg.Metrics.Listen != "" {
				go func() {
					if err := d.Engine().ServeMetrics(ctx, cfg.Metrics.Listen); err != nil {
						log.Error().Err(err).Msg("metrics not served")
					}
				}()
			}
			if cfg.Web.Listen == "" {
				return // the page is switched off
			}
			go func() {
				if err := web.ForDaemon(ctx, d, cfg, cfg.Web.Listen, log); err != nil {
					log.Error().Err(err).Msg("print-room web page not served")
				}
			}()
		},
	})
	if err != nil {
		log.Error().Err(err).Msg("printstationd stopped with an error")
		if errors.Is(err, station.ErrAlreadyRunning) {
			return 3
		}
		return 1
	}
	return 0
}
