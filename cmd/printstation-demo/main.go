// Command printstation-demo runs the whole station on simulated printers,
// chips and central server: what `make demo` shows a new user. It is a
// separate command so that the production daemon links no simulator.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"printstation/demo"

	_ "printstation/printer/all" // printer drivers and transports
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := demo.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
