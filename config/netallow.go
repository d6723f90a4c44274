package config

import (
	"net"
	"net/url"
)

// Peer is a host the daemon reaches over IP, and why: the unit's
// IPAddressAllow must name it (the unit denies every other address).
type Peer struct {
	Host string // a name or an address
	Why  string
}

// Peers lists the hosts this station's daemon talks to over IP: the central
// server and the Ethernet printers. Loopback hosts are left out (the unit
// allows localhost).
func (c *Config) Peers() []Peer {
	var ps []Peer
	add := func(host, why string) {
		if host == "" || isLoopbackHost(host) {
			return
		}
		ps = append(ps, Peer{Host: host, Why: why})
	}
	if c.Central.URL != "" {
		if u, err := url.Parse(c.Central.URL); err == nil {
			add(u.Hostname(), "central server "+u.Host)
		}
	}
	for _, p := range c.Printers {
		if p.Transport == "tcp" {
			if h, _, err := net.SplitHostPort(p.Address); err == nil {
				add(h, "printer "+p.Name+" "+p.Address)
			}
		}
	}
	return ps
}
