package simprinter

import (
	"context"

	"printstation/printer"
	"printstation/printer/tcp"
)

// Dial is a printer.Dialer onto this simulator through an in-process pipe:
//
//	printer.Open(ctx, "evolis", "tcp://sim:9100", printer.Options{Dial: sim.Dial})
//
// Each call is a new connection, so a driver's reconnect works as over TCP.
func (s *Sim) Dial(ctx context.Context) (printer.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return tcp.Wrap(s.Pipe()), nil
}
