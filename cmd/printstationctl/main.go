// Command printstationctl is the command line for operators, technicians
// and auditors: it talks to the running printstationd over its unix socket,
// drives printers and readers directly for diagnostics, and audits a copy
// of the station database with no daemon running.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"printstation/station/ctlcmd"

	_ "printstation/printer/all" // printer drivers and transports for diag
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := ctlcmd.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
