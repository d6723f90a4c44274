// Package usb is the USB transport for card printers, through gousb and
// libusb: printer-class interfaces (class 7, subclass 1, protocol 2), bulk
// IN and OUT, the IEEE 1284 device id, several printers of one model told
// apart by serial number, the kernel's usblp driver detached.
//
// Address: usb:VID:PID[:SERIAL] with hex ids, e.g. usb:0F49:0010:A1234567.
package usb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/gousb"

	"printstation/printer"
)

func init() {
	printer.RegisterTransport("usb", func(ctx context.Context, a printer.Addr) (printer.Conn, error) {
		return Dial(ctx, a)
	})
}

// USB printer class codes.
const (
	classPrinter    = 0x07
	subclassPrinter = 0x01
	protoBidir      = 0x02
)

// ErrNotFound is returned (wrapped) when no matching printer is attached.
var ErrNotFound = errors.New("no matching USB printer")

// printerIntf is a bidirectional printer-class interface of a device.
type printerIntf struct {
	Config, Intf, Alt int
	In, Out           int // endpoint numbers
}

// findInterface returns the first bidirectional printer-class interface
// with a bulk IN and a bulk OUT endpoint.
func findInterface(desc *gousb.DeviceDesc) (printerIntf, bool) {
	var cfgs []int
	for n := range desc.Configs {
		cfgs = append(cfgs, n)
	}
	sort.Ints(cfgs)
	for _, cn := range cfgs {
		for _, in := range desc.Configs[cn].Interfaces {
			for _, alt := range in.AltSettings {
				if alt.Class != classPrinter || alt.SubClass != subclassPrinter || alt.Protocol != protoBidir {
					continue
				}
				pi := printerIntf{Config: cn, Intf: alt.Number, Alt: alt.Alternate, In: -1, Out: -1}
				var addrs []int
				for a := range alt.Endpoints {
					addrs = append(addrs, int(a))
				}
				sort.Ints(addrs)
				for _, a := range addrs {
					ep := alt.Endpoints[gousb.EndpointAddress(a)]
					if ep.TransferType != gousb.TransferTypeBulk {
						continue
					}
					if ep.Direction == gousb.EndpointDirectionIn && pi.In < 0 {
						pi.In = ep.Number
					}
					if ep.Direction == gousb.EndpointDirectionOut && pi.Out < 0 {
						pi.Out = ep.Number
					}
				}
				if pi.In >= 0 && pi.Out >= 0 {
					return pi, true
				}
			}
		}
	}
	return printerIntf{}, false
}

// candidate is a matching device seen while looking.
type candidate struct {
	Serial string
	Where  string // bus/address, for messages
}

// choose picks the device for addr among the matching ones, or explains why
// it cannot.
func choose(a printer.Addr, found []candidate) (int, error) {
	want := fmt.Sprintf("a printer-class USB device %04X:%04X", a.VID, a.PID)
	if a.Serial != "" {
		want += " with serial number " + a.Serial
	}
	if a.Serial != "" {
		for i, c := range found {
			if c.Serial == a.Serial {
				return i, nil
			}
		}
	}
	switch {
	case len(found) == 0:
		return -1, fmt.Errorf("looked for %s: none attached — check the cable, the power and the ids in the config (lsusb lists them): %w", want, ErrNotFound)
	case a.Serial != "":
		var ss []string
		for _, c := range found {
			ss = append(ss, c.Serial)
		}
		return -1, fmt.Errorf("looked for %s: found %d with serial numbers %s: %w", want, len(found), strings.Join(ss, ", "), ErrNotFound)
	case len(found) > 1:
		var ss []string
		for _, c := range found {
			ss = append(ss, "usb:"+fmt.Sprintf("%04X:%04X:", a.VID, a.PID)+c.Serial)
		}
		return -1, fmt.Errorf("looked for %s: %d attached; name one by serial number: %s", want, len(found), strings.Join(ss, " or "))
	}
	return 0, nil
}

// Dial opens the printer at a.
func Dial(ctx context.Context, a printer.Addr) (printer.Conn, error) {
	uctx, err := newContext()
	if err != nil {
		return nil, printer.Link(printer.KindDisconnected, "usb printer %s: %w", a, err)
	}
	devs, err := uctx.OpenDevices(func(d *gousb.DeviceDesc) bool {
		if uint16(d.Vendor) != a.VID || uint16(d.Product) != a.PID {
			return false
		}
		_, ok := findInterface(d)
		return ok
	})
	// OpenDevices returns the devices it could open along with the error
	// of one it could not; a device we cannot open is reported only if
	// nothing else matches.
	var found []candidate
	for _, d := range devs {
		sn, _ := d.SerialNumber()
		found = append(found, candidate{Serial: sn, Where: fmt.Sprintf("bus %d address %d", d.Desc.Bus, d.Desc.Address)})
	}
	i, cerr := choose(a, found)
	if cerr != nil {
		for _, d := range devs {
			d.Close()
		}
		uctx.Close()
		if err != nil && len(devs) == 0 {
			return nil, printer.Link(printer.KindOf(mapErr(err)), "usb printer %s: %w (%v)", a, cerr, mapErr(err))
		}
		return nil, printer.Link(printer.KindDisconnected, "usb printer %s: %w", a, cerr)
	}
	for j, d := range devs {
		if j != i {
			d.Close()
		}
	}
	c, err := claim(ctx, uctx, devs[i])
	if err != nil {
		devs[i].Close()
		uctx.Close()
		return nil, fmt.Errorf("usb printer %s (%s): %w", a, found[i].Where, err)
	}
	return c, nil
}

// newContext guards gousb.NewContext, which panics when libusb cannot start
// (no /dev/bus/usb in a container, for example).
func newContext() (c *gousb.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("libusb could not start: %v", r)
		}
	}()
	return gousb.NewContext(), nil
}

// claim detaches the kernel driver, claims the interface (retrying while
// another process or usblp lets go) and opens the bulk endpoints.
func claim(ctx context.Context, uctx *gousb.Context, d *gousb.Device) (*conn, error) {
	pi, _ := findInterface(d.Desc)
	if err := d.SetAutoDetach(true); err != nil {
		return nil, fmt.Errorf("detach kernel printer driver: %w", mapErr(err))
	}
	var cfg *gousb.Config
	var intf *gousb.Interface
	var err error
	for attempt := 0; ; attempt++ {
		cfg, err = d.Config(pi.Config)
		if err == nil {
			intf, err = cfg.Interface(pi.Intf, pi.Alt)
			if err != nil {
				cfg.Close()
			}
		}
		if err == nil || !errors.Is(err, gousb.ErrorBusy) || attempt >= 5 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, printer.Link(printer.KindBusy, "claim printer interface: busy")
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err != nil {
		if errors.Is(err, gousb.ErrorBusy) {
			return nil, printer.Link(printer.KindBusy, "claim printer interface %d: another program holds it (is CUPS or another station running?)", pi.Intf)
		}
		return nil, fmt.Errorf("claim printer interface %d: %w", pi.Intf, mapErr(err))
	}
	in, err := intf.InEndpoint(pi.In)
	if err == nil {
		var out *gousb.OutEndpoint
		out, err = intf.OutEndpoint(pi.Out)
		if err == nil {
			return &conn{uctx: uctx, dev: d, cfg: cfg, intf: intf, in: in, out: out, ifnum: pi.Intf, alt: pi.Alt}, nil
		}
	}
	intf.Close()
	cfg.Close()
	return nil, fmt.Errorf("open printer endpoints: %w", mapErr(err))
}

type conn struct {
	mu    sync.Mutex
	uctx  *gousb.Context
	dev   *gousb.Device
	cfg   *gousb.Config
	intf  *gousb.Interface
	in    *gousb.InEndpoint
	out   *gousb.OutEndpoint
	ifnum int
	alt   int
	buf   []byte // bytes read beyond what the caller asked for
}

func (c *conn) Write(ctx context.Context, p []byte) (int, error) {
	n, err := c.out.WriteContext(ctx, p)
	if err != nil {
		return n, ioErr(ctx, err)
	}
	return n, nil
}

func (c *conn) Read(ctx context.Context, p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	// A bulk IN read must take whole packets, or the device overflows it.
	mps := c.in.Desc.MaxPacketSize
	if mps <= 0 {
		mps = 64
	}
	tmp := make([]byte, mps*((len(p)+mps-1)/mps))
	n, err := c.in.ReadContext(ctx, tmp)
	m := copy(p, tmp[:n])
	c.buf = append(c.buf, tmp[m:n]...)
	if err != nil && m == 0 {
		return 0, ioErr(ctx, err)
	}
	return m, nil
}

// DeviceID reads the IEEE 1284 device id (class request GET_DEVICE_ID).
func (c *conn) DeviceID(ctx context.Context) (string, error) {
	buf := make([]byte, maxDeviceID)
	// wValue is the configuration index (0-based), wIndex the interface in
	// the high byte and the alternate setting in the low byte.
	n, err := c.dev.Control(0xA1, 0, uint16(max(c.cfg.Desc.Number-1, 0)), uint16(c.ifnum)<<8|uint16(c.alt), buf)
	if err != nil {
		return "", fmt.Errorf("read printer device id: %w", mapErr(err))
	}
	id, err := ParseDeviceID(buf[:n])
	if err != nil {
		return "", err
	}
	return id.Raw, nil
}

func (c *conn) Close() error {
	c.intf.Close()
	err := c.cfg.Close()
	if derr := c.dev.Close(); err == nil {
		err = derr
	}
	if uerr := c.uctx.Close(); err == nil {
		err = uerr
	}
	return err
}

// ioErr maps a transfer error, preferring the context's reason.
func ioErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return printer.Link(printer.KindTimeout, "usb printer: no answer in time")
		}
		return fmt.Errorf("usb printer: %w", cerr)
	}
	return mapErr(err)
}

// mapErr turns libusb errors into the printer package's kinds. gousb does
// not wrap its errors, so they are compared directly.
func mapErr(err error) error {
	var ue gousb.Error
	if !errors.As(err, &ue) {
		var ts gousb.TransferStatus
		if errors.As(err, &ts) {
			switch ts {
			case gousb.TransferTimedOut, gousb.TransferCancelled:
				return printer.Link(printer.KindTimeout, "usb transfer %v", ts)
			case gousb.TransferNoDevice:
				return printer.Link(printer.KindDisconnected, "usb transfer: no device (unplugged?)")
			}
			return printer.Link(printer.KindDisconnected, "usb transfer %v", ts)
		}
		return err
	}
	switch ue {
	case gousb.ErrorTimeout:
		return printer.Link(printer.KindTimeout, "usb: timeout")
	case gousb.ErrorBusy:
		return printer.Link(printer.KindBusy, "usb: device busy")
	case gousb.ErrorAccess:
		return printer.Link(printer.KindDisconnected, "usb: permission denied — install the station's udev rule or run as the station user")
	case gousb.ErrorNoDevice, gousb.ErrorNotFound, gousb.ErrorIO, gousb.ErrorPipe:
		return printer.Link(printer.KindDisconnected, "usb: %v", ue)
	}
	return printer.Link(printer.KindDisconnected, "usb: %v", ue)
}
