package printer

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Conn is the byte pipe a driver talks through. Every call honours the
// context's deadline and cancellation. A transport returns an error wrapping
// ErrDisconnected when the link is gone, and one wrapping ErrTimeout when the
// deadline passed with nothing moved.
type Conn interface {
	Write(ctx context.Context, p []byte) (int, error)
	Read(ctx context.Context, p []byte) (int, error)
	Close() error
}

// DeviceIDer is implemented by Conns that can read the printer's IEEE 1284
// device id (USB).
type DeviceIDer interface {
	DeviceID(ctx context.Context) (string, error)
}

// Dialer opens a fresh Conn to the same printer; drivers call it again to
// recover from a disconnect.
type Dialer func(ctx context.Context) (Conn, error)

// Addr is a parsed printer address.
//
//	usb:VID:PID[:SERIAL]   e.g. usb:0F49:0010:12345678 (hex ids)
//	tcp://HOST:PORT
//	ipp://HOST[:PORT]/PATH  an IPP queue, e.g. ipp://localhost:631/printers/NAME (also ipps://)
type Addr struct {
	Scheme string // "usb", "tcp", "ipp" or "ipps"
	Host   string // tcp, ipp: host:port
	Path   string // ipp: the queue's path, e.g. /printers/NAME
	VID    uint16 // usb
	PID    uint16 // usb
	Serial string // usb, optional
}

func (a Addr) String() string {
	switch a.Scheme {
	case "usb":
		s := fmt.Sprintf("usb:%04X:%04X", a.VID, a.PID)
		if a.Serial != "" {
			s += ":" + a.Serial
		}
		return s
	case "tcp":
		return "tcp://" + a.Host
	case "ipp", "ipps":
		return a.Scheme + "://" + a.Host + a.Path
	}
	return a.Scheme + ":" + a.Host
}

// ParseAddr parses a printer address from the configuration.
func ParseAddr(s string) (Addr, error) {
	switch {
	case strings.HasPrefix(s, "tcp://"):
		host := strings.TrimPrefix(s, "tcp://")
		i := strings.LastIndexByte(host, ':')
		if host == "" || i <= 0 || i == len(host)-1 {
			return Addr{}, fmt.Errorf("printer address %q: want tcp://HOST:PORT", s)
		}
		if _, err := strconv.ParseUint(host[i+1:], 10, 16); err != nil {
			return Addr{}, fmt.Errorf("printer address %q: port %q is not a number", s, host[i+1:])
		}
		return Addr{Scheme: "tcp", Host: host}, nil
	case strings.HasPrefix(s, "ipp://") || strings.HasPrefix(s, "ipps://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.Path == "" || u.Path == "/" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return Addr{}, fmt.Errorf("printer address %q: want ipp://HOST[:PORT]/PATH of the queue, e.g. ipp://localhost:631/printers/NAME", s)
		}
		if p := u.Port(); p != "" {
			if _, err := strconv.ParseUint(p, 10, 16); err != nil {
				return Addr{}, fmt.Errorf("printer address %q: port %q is not a number", s, p)
			}
		}
		return Addr{Scheme: u.Scheme, Host: u.Host, Path: u.Path}, nil
	case strings.HasPrefix(s, "usb:"):
		parts := strings.SplitN(strings.TrimPrefix(s, "usb:"), ":", 3)
		if len(parts) < 2 {
			return Addr{}, fmt.Errorf("printer address %q: want usb:VID:PID[:SERIAL] with hex ids, e.g. usb:0F49:0010", s)
		}
		vid, err1 := strconv.ParseUint(strings.TrimPrefix(parts[0], "0x"), 16, 16)
		pid, err2 := strconv.ParseUint(strings.TrimPrefix(parts[1], "0x"), 16, 16)
		if err1 != nil || err2 != nil {
			return Addr{}, fmt.Errorf("printer address %q: vendor and product ids must be 4 hex digits, e.g. usb:0F49:0010", s)
		}
		a := Addr{Scheme: "usb", VID: uint16(vid), PID: uint16(pid)}
		if len(parts) == 3 {
			a.Serial = parts[2]
		}
		return a, nil
	}
	return Addr{}, fmt.Errorf("printer address %q: want usb:VID:PID[:SERIAL], tcp://HOST:PORT or ipp://HOST[:PORT]/PATH", s)
}

// Timeouts bound each class of command. Zero fields take the defaults.
type Timeouts struct {
	Read    time.Duration // settings and reads (default 2 s)
	Move    time.Duration // feed and card moves (default 10 s)
	Bitmap  time.Duration // one panel download (default 30 s)
	Print   time.Duration // printing one panel (default 30 s)
	End     time.Duration // end of sequence, eject, reject (default 10 s)
	Service time.Duration // cleaning, test card, self-adjust (default 2 min)
}

// WithDefaults fills zero fields.
func (t Timeouts) WithDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Read, 2*time.Second)
	def(&t.Move, 10*time.Second)
	def(&t.Bitmap, 30*time.Second)
	def(&t.Print, 30*time.Second)
	def(&t.End, 10*time.Second)
	def(&t.Service, 2*time.Minute)
	return t
}

// Options configure a driver.
type Options struct {
	// Name is how errors and logs name this printer ("p1"); default: the address.
	Name     string
	Timeouts Timeouts
	// Compress lets drivers use compressed bitmap downloads where the
	// command language has them (Evolis Dbc for K and O).
	Compress bool
	// Ribbon is the ribbon type the printer is set up for, in the
	// printer's words ("ymcko", "ko", "k", …); "" takes what the printer
	// reports. A driver refuses to feed when the printer reports another.
	Ribbon string
	Log    zerolog.Logger
	// Dial, when set, replaces the transport named by the address (tests,
	// simulators in the same process).
	Dial Dialer
}

// OpenFunc opens a driver on a dialer.
type OpenFunc func(ctx context.Context, addr Addr, dial Dialer, opts Options) (Driver, error)

// TransportFunc dials a transport for an address of its scheme.
type TransportFunc func(ctx context.Context, addr Addr) (Conn, error)

var (
	regMu      sync.Mutex
	drivers    = map[string]OpenFunc{}
	transports = map[string]TransportFunc{}
)

// RegisterDriver makes a driver available to Open. It panics on a duplicate
// name, as a programming error at init time.
func RegisterDriver(name string, open OpenFunc) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := drivers[name]; dup {
		panic("printer: driver registered twice: " + name)
	}
	drivers[name] = open
}

// RegisterTransport makes an address scheme available to Open.
func RegisterTransport(scheme string, dial TransportFunc) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := transports[scheme]; dup {
		panic("printer: transport registered twice: " + scheme)
	}
	transports[scheme] = dial
}

// Drivers lists the registered driver names.
func Drivers() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var names []string
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Transport returns the registered transport's dialer for addr, for tools
// that wrap the link (a session recorder) before opening a driver on it.
func Transport(addr string) (Dialer, error) {
	a, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	regMu.Lock()
	tr := transports[a.Scheme]
	regMu.Unlock()
	if tr == nil {
		return nil, fmt.Errorf("printer %s: no %s transport registered; import printstation/printer/all", addr, a.Scheme)
	}
	return func(ctx context.Context) (Conn, error) { return tr(ctx, a) }, nil
}

// Open opens the printer at addr with the named driver ("evolis").
func Open(ctx context.Context, driver, addr string, opts Options) (Driver, error) {
	a, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	regMu.Lock()
	open := drivers[driver]
	tr := transports[a.Scheme]
	regMu.Unlock()
	if open == nil {
		return nil, fmt.Errorf("printer driver %q is not known (known: %s); import printstation/printer/all", driver, strings.Join(Drivers(), ", "))
	}
	if opts.Name == "" {
		opts.Name = addr
	}
	dial := opts.Dial
	if dial == nil {
		if tr == nil {
			return nil, fmt.Errorf("printer %s: no %s transport registered; import printstation/printer/all", opts.Name, a.Scheme)
		}
		dial = func(ctx context.Context) (Conn, error) { return tr(ctx, a) }
	}
	return open(ctx, a, dial, opts)
}
