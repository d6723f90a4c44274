package usb

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// DeviceID is a parsed IEEE 1284 device id ("MFG:Evolis;MDL:Primacy;…").
type DeviceID struct {
	Raw    string
	Fields map[string]string // keys upper-case, as sent
}

// Manufacturer, Model, Serial and Command set read the usual keys and
// their long forms.
func (d DeviceID) Manufacturer() string { return d.get("MFG", "MANUFACTURER") }
func (d DeviceID) Model() string        { return d.get("MDL", "MODEL") }
func (d DeviceID) Serial() string       { return d.get("SN", "SERN", "SERIALNUMBER") }
func (d DeviceID) CommandSet() string   { return d.get("CMD", "COMMAND SET") }

func (d DeviceID) get(keys ...string) string {
	for _, k := range keys {
		if v, ok := d.Fields[k]; ok {
			return v
		}
	}
	return ""
}

// maxDeviceID bounds the reply buffer for GET_DEVICE_ID.
const maxDeviceID = 1024

// ParseDeviceID parses a GET_DEVICE_ID reply: a two-byte big-endian length
// that counts itself, then "KEY:value;" pairs. Some devices send the length
// little-endian; that is accepted when the big-endian reading cannot be
// right.
func ParseDeviceID(b []byte) (DeviceID, error) {
	if len(b) < 2 {
		return DeviceID{}, fmt.Errorf("printer device id: %d bytes, too short for its length field", len(b))
	}
	n := int(binary.BigEndian.Uint16(b))
	if n < 2 || n > len(b) {
		if le := int(binary.LittleEndian.Uint16(b)); le >= 2 && le <= len(b) {
			n = le
		} else {
			return DeviceID{}, fmt.Errorf("printer device id: length field says %d bytes, %d arrived", n, len(b))
		}
	}
	raw := string(b[2:n])
	for _, c := range []byte(raw) {
		if c < 0x20 || c > 0x7e {
			return DeviceID{}, fmt.Errorf("printer device id: byte 0x%02x is not text", c)
		}
	}
	id := DeviceID{Raw: raw, Fields: map[string]string{}}
	for _, part := range strings.Split(raw, ";") {
		k, v, ok := strings.Cut(part, ":")
		if !ok {
			continue
		}
		k = strings.ToUpper(strings.TrimSpace(k))
		if k != "" {
			id.Fields[k] = strings.TrimSpace(v)
		}
	}
	return id, nil
}
