package printer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"printstation/printer"
)

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    printer.Addr
		wantErr string
	}{
		{in: "tcp://127.0.0.1:9100", want: printer.Addr{Scheme: "tcp", Host: "127.0.0.1:9100"}},
		{in: "tcp://[::1]:9100", want: printer.Addr{Scheme: "tcp", Host: "[::1]:9100"}},
		{in: "usb:0F49:0010", want: printer.Addr{Scheme: "usb", VID: 0x0f49, PID: 0x0010}},
		{in: "usb:0x0f49:0x0010:A123:B", want: printer.Addr{Scheme: "usb", VID: 0x0f49, PID: 0x0010, Serial: "A123:B"}},
		{in: "tcp://host", wantErr: "want tcp://HOST:PORT"},
		{in: "tcp://host:http", wantErr: "not a number"},
		{in: "usb:0F49", wantErr: "usb:VID:PID"},
		{in: "usb:ZZZZ:0010", wantErr: "hex"},
		{in: "lpt1", wantErr: "want usb:VID:PID[:SERIAL], tcp://HOST:PORT or ipp://HOST[:PORT]/PATH"},
		{in: "ipp://localhost:631/printers/card1", want: printer.Addr{Scheme: "ipp", Host: "localhost:631", Path: "/printers/card1"}},
		{in: "ipps://[::1]/ipp/print", want: printer.Addr{Scheme: "ipps", Host: "[::1]", Path: "/ipp/print"}},
		{in: "ipp://localhost:631", wantErr: "ipp://HOST[:PORT]/PATH"},
		{in: "ipp://localhost:ipp/printers/x", wantErr: "ipp://HOST[:PORT]/PATH"},
		{in: "ipp://u:pw@localhost/printers/x", wantErr: "ipp://HOST[:PORT]/PATH"},
	} {
		got, err := printer.ParseAddr(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseAddr(%q) error = %v, want it to say %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseAddr(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if (tc.in == "usb:0F49:0010" || strings.HasPrefix(tc.in, "ipp")) && got.String() != tc.in {
			t.Errorf("String() = %q", got.String())
		}
	}
}

func TestErrorSaysWhatToDo(t *testing.T) {
	e := &printer.Error{Printer: "p1", Op: "feed", Kind: printer.KindJam, Position: printer.PositionFeeder, Detail: "CARD JAM"}
	msg := e.Error()
	for _, want := range []string{"printer p1", "feed", "card jam", "card at feeder", "remove the card"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	wrapped := errors.Join(errors.New("job 7"), e)
	if !errors.Is(wrapped, printer.ErrJam) || errors.Is(wrapped, printer.ErrCoverOpen) {
		t.Errorf("errors.Is does not follow the kind")
	}
	if printer.KindOf(wrapped) != printer.KindJam {
		t.Errorf("KindOf = %v", printer.KindOf(wrapped))
	}
	// Every kind has a sentinel that matches only itself and advice.
	kinds := map[printer.Kind]error{
		printer.KindJam: printer.ErrJam, printer.KindFeederEmpty: printer.ErrFeederEmpty,
		printer.KindRibbonOut: printer.ErrRibbonOut, printer.KindRibbonMismatch: printer.ErrRibbonMismatch,
		printer.KindCoverOpen: printer.ErrCoverOpen, printer.KindRejectFull: printer.ErrRejectFull,
		printer.KindNeedsCleaning: printer.ErrNeedsCleaning, printer.KindBusy: printer.ErrBusy,
		printer.KindDisconnected: printer.ErrDisconnected, printer.KindTimeout: printer.ErrTimeout,
	}
	for k, s := range kinds {
		err := error(&printer.Error{Printer: "p", Kind: k})
		if !errors.Is(err, s) {
			t.Errorf("kind %v does not match %v", k, s)
		}
		for k2, s2 := range kinds {
			if k2 != k && errors.Is(err, s2) {
				t.Errorf("kind %v also matches %v", k, s2)
			}
		}
		if !strings.Contains(err.Error(), " — ") {
			t.Errorf("%v has no advice", err)
		}
	}
}

func TestOpenUnknown(t *testing.T) {
	ctx := context.Background()
	if _, err := printer.Open(ctx, "nosuch", "tcp://127.0.0.1:1", printer.Options{}); err == nil || !strings.Contains(err.Error(), `"nosuch" is not known`) {
		t.Errorf("unknown driver: %v", err)
	}
	if _, err := printer.Open(ctx, "evolis", "serial:/dev/ttyS0", printer.Options{}); err == nil {
		t.Errorf("bad address accepted")
	}
}

func TestRegistryDial(t *testing.T) {
	var gotAddr printer.Addr
	printer.RegisterDriver("test-reg", func(ctx context.Context, a printer.Addr, dial printer.Dialer, opts printer.Options) (printer.Driver, error) {
		gotAddr = a
		_, err := dial(ctx)
		return nil, err
	})
	_, err := printer.Open(context.Background(), "test-reg", "tcp://127.0.0.1:9", printer.Options{
		Dial: func(context.Context) (printer.Conn, error) { return nil, printer.ErrDisconnected },
	})
	if !errors.Is(err, printer.ErrDisconnected) || gotAddr.Host != "127.0.0.1:9" {
		t.Errorf("Open with Dial override: %v, addr %+v", err, gotAddr)
	}
}

// Kinds lists every kind with its own words, and the kind after the last
// one listed has none: a kind added to the constants and to the advice
// table but not to Kinds fails here.
func TestKindsListsEveryKind(t *testing.T) {
	ks := printer.Kinds()
	seen := map[string]bool{}
	for _, k := range ks[1:] {
		s := k.String()
		if s == "printer error" || seen[s] {
			t.Errorf("kind %d has no words of its own: %q", k, s)
		}
		seen[s] = true
	}
	if next := ks[len(ks)-1] + 1; next.String() != "printer error" {
		t.Errorf("kind %d (%s) is not in Kinds", next, next)
	}
}
