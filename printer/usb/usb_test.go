package usb

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/gousb"

	"printstation/printer"
)

func TestParseDeviceID(t *testing.T) {
	body := "MFG:Evolis;MDL:Primacy;CMD:EVOLIS;SN:A12345;CLS:PRINTER;"
	be := append([]byte{byte((len(body) + 2) >> 8), byte(len(body) + 2)}, body...)
	le := append([]byte{byte(len(body) + 2), byte((len(body) + 2) >> 8)}, body...)
	for name, in := range map[string][]byte{
		"big endian":           be,
		"swapped byte order":   le,
		"trailing junk":        append(append([]byte{}, be...), 0, 0, 0),
		"long keys, no ending": append([]byte{0, 37}, "MANUFACTURER:Evolis;MODEL:Primacy 2"...),
	} {
		id, err := ParseDeviceID(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if id.Manufacturer() != "Evolis" || !strings.HasPrefix(id.Model(), "Primacy") {
			t.Errorf("%s: %+v", name, id)
		}
	}
	id, _ := ParseDeviceID(be)
	if id.Serial() != "A12345" || id.CommandSet() != "EVOLIS" {
		t.Errorf("serial/cmd: %+v", id.Fields)
	}
	for name, in := range map[string][]byte{
		"empty":        nil,
		"one byte":     {0},
		"length lies":  {0x7f, 0x7f, 'M'},
		"binary":       {0, 5, 'M', 0x01, 'X'},
		"length below": {0, 1, 'M'},
	} {
		if _, err := ParseDeviceID(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseDeviceID(f *testing.F) {
	f.Add([]byte("\x00\x10MFG:Evolis;MDL:"))
	f.Add([]byte("\x10\x00MFG:Evolis;MDL:"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseDeviceID(b)
		if err == nil && len(id.Raw) > len(b) {
			t.Fatalf("raw longer than input")
		}
	})
}

func printerDesc(class gousb.Class, eps ...gousb.EndpointDesc) *gousb.DeviceDesc {
	m := map[gousb.EndpointAddress]gousb.EndpointDesc{}
	for _, e := range eps {
		m[e.Address] = e
	}
	return &gousb.DeviceDesc{Vendor: 0x0f49, Product: 0x0010, Configs: map[int]gousb.ConfigDesc{
		1: {Number: 1, Interfaces: []gousb.InterfaceDesc{
			{Number: 0, AltSettings: []gousb.InterfaceSetting{{Number: 0, Class: gousb.ClassHID}}},
			{Number: 1, AltSettings: []gousb.InterfaceSetting{{Number: 1, Class: class, SubClass: 1, Protocol: 2, Endpoints: m}}},
		}},
	}}
}

var (
	bulkIn  = gousb.EndpointDesc{Address: 0x81, Number: 1, Direction: gousb.EndpointDirectionIn, TransferType: gousb.TransferTypeBulk, MaxPacketSize: 64}
	bulkOut = gousb.EndpointDesc{Address: 0x02, Number: 2, Direction: gousb.EndpointDirectionOut, TransferType: gousb.TransferTypeBulk, MaxPacketSize: 64}
	intrIn  = gousb.EndpointDesc{Address: 0x83, Number: 3, Direction: gousb.EndpointDirectionIn, TransferType: gousb.TransferTypeInterrupt}
)

func TestFindInterface(t *testing.T) {
	pi, ok := findInterface(printerDesc(gousb.ClassPrinter, intrIn, bulkIn, bulkOut))
	if !ok || pi.Intf != 1 || pi.In != 1 || pi.Out != 2 || pi.Config != 1 {
		t.Errorf("printer interface: %+v, %v", pi, ok)
	}
	if _, ok := findInterface(printerDesc(gousb.ClassVendorSpec, bulkIn, bulkOut)); ok {
		t.Errorf("a vendor-specific interface was taken for a printer")
	}
	if _, ok := findInterface(printerDesc(gousb.ClassPrinter, bulkOut)); ok {
		t.Errorf("a write-only printer interface was taken (we need replies)")
	}
}

func TestChoose(t *testing.T) {
	a := printer.Addr{Scheme: "usb", VID: 0x0f49, PID: 0x0010}
	two := []candidate{{Serial: "A1"}, {Serial: "B2"}}
	if _, err := choose(a, nil); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "0F49:0010") {
		t.Errorf("none: %v", err)
	}
	if i, err := choose(a, two[:1]); i != 0 || err != nil {
		t.Errorf("one: %d %v", i, err)
	}
	if _, err := choose(a, two); err == nil || !strings.Contains(err.Error(), "usb:0F49:0010:A1 or usb:0F49:0010:B2") {
		t.Errorf("two without serial: %v", err)
	}
	a.Serial = "B2"
	if i, err := choose(a, two); i != 1 || err != nil {
		t.Errorf("by serial: %d %v", i, err)
	}
	a.Serial = "C3"
	if _, err := choose(a, two); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "A1, B2") {
		t.Errorf("wrong serial: %v", err)
	}
}

func TestMapErr(t *testing.T) {
	for _, tc := range []struct {
		in   error
		want error
	}{
		{gousb.ErrorTimeout, printer.ErrTimeout},
		{gousb.ErrorBusy, printer.ErrBusy},
		{gousb.ErrorNoDevice, printer.ErrDisconnected},
		{gousb.ErrorAccess, printer.ErrDisconnected},
		{gousb.ErrorPipe, printer.ErrDisconnected},
		{gousb.TransferTimedOut, printer.ErrTimeout},
		{gousb.TransferNoDevice, printer.ErrDisconnected},
		{gousb.TransferStall, printer.ErrDisconnected},
	} {
		if got := mapErr(tc.in); !errors.Is(got, tc.want) {
			t.Errorf("%v → %v, want %v", tc.in, got, tc.want)
		}
	}
	if !strings.Contains(mapErr(gousb.ErrorAccess).Error(), "udev") {
		t.Errorf("permission error does not say what to do")
	}
}

// With no printer attached (this machine has none), opening fails with one
// line that says what was looked for.
func TestDialNothingAttached(t *testing.T) {
	a, _ := printer.ParseAddr("usb:0F49:FFFE:NOPE")
	_, err := Dial(context.Background(), a)
	if err == nil {
		t.Skip("a printer with this id is attached")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "0F49:FFFE") || !errors.Is(err, printer.ErrDisconnected) {
		t.Errorf("error: %q", msg)
	}
	t.Log(msg)
}
