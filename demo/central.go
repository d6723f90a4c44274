package demo

import (
	"context"
	"net"

	"github.com/rs/zerolog"

	"printstation/sim/central"
)

// centralSim is the reference central server running in the demo's process,
// on a loopback port with mutual TLS, as the station would meet it.
type centralSim struct {
	URL, ClientCert, ClientKey, CAFile string
	IssuerKID, IssuerKeyFile           string
	WitnessKey                         string
	srv                                *central.Server
	close                              func()
}

func (c *centralSim) Close() { c.close() }

func startCentral(ctx context.Context, dir string, jobs int) (*centralSim, error) {
	srv, err := central.New(central.Options{Dir: dir, Logger: zerolog.Nop()})
	if err != nil {
		return nil, err
	}
	files, err := srv.StationFiles(stationID)
	if err != nil {
		srv.Close()
		return nil, err
	}
	batch := jobs
	if batch > 50 {
		batch = 50
	}
	if _, err := srv.IssueJobs(stationID, jobs, batch); err != nil {
		srv.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, err
	}
	hs, err := srv.ServeTLS(ln)
	if err != nil {
		ln.Close()
		srv.Close()
		return nil, err
	}
	return &centralSim{
		URL: "https://" + ln.Addr().String(), ClientCert: files.CertFile, ClientKey: files.KeyFile, CAFile: files.CAFile,
		IssuerKID: files.IssuerKID, IssuerKeyFile: files.IssuerKeyFile, WitnessKey: srv.WitnessVerifierKey(), srv: srv,
		close: func() { hs.Close(); srv.Close() },
	}, nil
}
