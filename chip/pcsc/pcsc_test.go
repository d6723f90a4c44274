package pcsc_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"printstation/chip"
	"printstation/chip/chiptest"
	"printstation/chip/pcsc"
	"printstation/sim/chip/vicc"
)

const reader0 = "Virtual PCD 00 00"

var startedPcscd bool

// TestMain brings up pcscd (with vpcd's readers) if it is not running, so
// `go test ./chip/...` works alone. Without pcscd installed the tests skip,
// except in CI, where the packages are a requirement.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int { return vicc.RunTests(m, "PC/SC", &startedPcscd) }

// profile8K is chiptest.Profile8K: 8 KiB over four files.
func profile8K() chip.Personalization { return chiptest.Profile8K() }

func open(t testing.TB) *pcsc.Encoder {
	t.Helper()
	e, err := pcsc.Open(t.Context(), reader0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func insert(t testing.TB, o vicc.Options) *vicc.Card {
	t.Helper()
	c, err := vicc.Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove() })
	return c
}

func opCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPersonalize8KAndVerify(t *testing.T) {
	e := open(t)
	dump := filepath.Join(t.TempDir(), "card.json")
	uid := []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6}
	card := insert(t, vicc.Options{UID: uid, DumpPath: dump})
	p := profile8K()
	res, err := e.Personalize(opCtx(t), p)
	if err != nil {
		t.Fatalf("Personalize: %v", err)
	}
	if !bytes.Equal(res.UID, uid) {
		t.Errorf("UID = %x, want %x", res.UID, uid)
	}
	if len(res.ATR) < 2 || res.ATR[0] != 0x3B {
		t.Errorf("ATR = %x", res.ATR)
	}
	if res.APDUs < 35 {
		t.Errorf("APDUs = %d: 8 KiB in short APDUs takes at least 35 writes", res.APDUs)
	}
	if e.Reader() != reader0 {
		t.Errorf("Reader() = %q", e.Reader())
	}
	vres, err := e.Verify(opCtx(t), p)
	if err != nil || !bytes.Equal(vres.UID, uid) {
		t.Fatalf("Verify = %+v, %v", vres, err)
	}
	if err := card.Remove(); err != nil {
		t.Fatal(err)
	}
	d, err := vicc.ReadDump(dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range p.Files {
		got, ok := d.File(f.FID)
		if !ok || !bytes.Equal(got, f.Data) {
			t.Errorf("file %04X on the physical card: %d bytes, want the job's %d", f.FID, len(got), len(f.Data))
		}
	}
}

func TestCardDroppedMidWrite(t *testing.T) {
	e := open(t)
	dump := filepath.Join(t.TempDir(), "card.json")
	card := insert(t, vicc.Options{UID: []byte{1, 2, 3, 4}, DumpPath: dump, DropAfterWrites: 10})
	res, err := e.Personalize(opCtx(t), profile8K())
	if err == nil {
		t.Fatalf("Personalize succeeded (%+v) on a card that left mid-write", res)
	}
	if !errors.Is(err, chip.ErrCardRemoved) {
		t.Fatalf("err = %v, want ErrCardRemoved", err)
	}
	if err := card.Remove(); err != nil {
		t.Fatal(err)
	}
	d, err := vicc.ReadDump(dump)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Dropped || d.Writes != 10 {
		t.Errorf("dump: dropped=%v writes=%d, want a drop after 10 writes", d.Dropped, d.Writes)
	}
	// The encoder is still usable for the next blank.
	insert(t, vicc.Options{})
	if _, err := e.Personalize(opCtx(t), profile8K()); err != nil {
		t.Errorf("next card: %v", err)
	}
}

func TestWrongByteCaughtByVerify(t *testing.T) {
	e := open(t)
	insert(t, vicc.Options{})
	wrong := profile8K()
	wrong.Files[1].Data = bytes.Clone(wrong.Files[1].Data)
	wrong.Files[1].Data[1234] ^= 0x01
	if _, err := e.Personalize(opCtx(t), wrong); err != nil {
		t.Fatal(err)
	}
	_, err := e.Verify(opCtx(t), profile8K())
	var me *chip.MismatchError
	if !errors.Is(err, chip.ErrVerifyMismatch) || !errors.As(err, &me) || me.FID != 0x0102 {
		t.Fatalf("err = %v, want a mismatch naming file 0102", err)
	}
}

func TestLockAndUIDUnknown(t *testing.T) {
	e := open(t)
	dump := filepath.Join(t.TempDir(), "card.json")
	card := insert(t, vicc.Options{DumpPath: dump}) // no UID answer
	p := profile8K()
	p.Lock = true
	res, err := e.Personalize(opCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.UID != nil || res.UIDString() != "uid unknown" {
		t.Errorf("UID = %x, want uid unknown", res.UID)
	}
	_, err = e.Personalize(opCtx(t), p)
	var swe *chip.SWError
	if !errors.Is(err, chip.ErrWriteRefused) || !errors.As(err, &swe) || swe.SW != 0x6982 {
		t.Errorf("rewriting a locked card: err = %v, want write refused 6982", err)
	}
	if err := card.Remove(); err != nil {
		t.Fatal(err)
	}
	d, _ := vicc.ReadDump(dump)
	for _, f := range d.Files {
		if !f.Locked {
			t.Errorf("file %s not locked on the card", f.FID)
		}
	}
}

func TestNoCardInTime(t *testing.T) {
	e := open(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := e.Personalize(ctx, profile8K())
	if !errors.Is(err, chip.ErrNoCard) {
		t.Fatalf("err = %v, want ErrNoCard", err)
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	e := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := e.Personalize(ctx, profile8K())
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // let it block in GetStatusChange
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, chip.ErrNoCard) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want ErrNoCard (canceled)", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Personalize did not return after cancel")
	}
	// The watch context still works after a Cancel.
	insert(t, vicc.Options{})
	if _, err := e.Personalize(opCtx(t), profile8K()); err != nil {
		t.Fatalf("after cancel: %v", err)
	}
}

func TestWaitsForCardInsertedLater(t *testing.T) {
	e := open(t)
	done := make(chan error, 1)
	go func() {
		_, err := e.Personalize(opCtx(t), profile8K())
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // the printer moving the card to the encoder
	insert(t, vicc.Options{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func mayRestartPcscd(t *testing.T) {
	if !startedPcscd && os.Getenv("CI") == "" && os.Getenv("PRINTSTATION_RESTART_PCSCD") == "" {
		t.Skip("pcscd was started by someone else; set PRINTSTATION_RESTART_PCSCD=1 to let this test restart it")
	}
}

func TestServiceDown(t *testing.T) {
	mayRestartPcscd(t)
	e := open(t)
	if err := vicc.StopPcscd(opCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := vicc.EnsurePcscd(context.Background()); err != nil {
			t.Errorf("bringing pcscd back: %v", err)
		}
	})
	if _, err := pcsc.Open(t.Context(), reader0); !errors.Is(err, chip.ErrServiceDown) {
		t.Errorf("Open with pcscd stopped: err = %v, want ErrServiceDown", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := e.Personalize(ctx, profile8K()); !errors.Is(err, chip.ErrServiceDown) {
		t.Errorf("Personalize with pcscd stopped: err = %v, want ErrServiceDown", err)
	}
	if _, err := vicc.EnsurePcscd(opCtx(t)); err != nil {
		t.Fatal(err)
	}
	insert(t, vicc.Options{})
	if _, err := e.Personalize(opCtx(t), profile8K()); err != nil {
		t.Errorf("after pcscd came back: %v", err)
	}
}

func TestCloseEndsTheWait(t *testing.T) {
	e, err := pcsc.Open(t.Context(), reader0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Personalize(t.Context(), profile8K()) // no deadline
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, chip.ErrNoCard) {
			t.Errorf("err = %v, want ErrNoCard", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not end the wait")
	}
}

func TestSurvivesPcscdRestart(t *testing.T) {
	mayRestartPcscd(t)
	e := open(t)
	c1 := insert(t, vicc.Options{UID: []byte{1, 1, 1, 1}})
	if _, err := e.Personalize(opCtx(t), profile8K()); err != nil {
		t.Fatal(err)
	}
	if err := c1.Remove(); err != nil {
		t.Fatal(err)
	}
	old := vicc.PcscdPID()
	if err := vicc.RestartPcscd(opCtx(t)); err != nil {
		t.Fatal(err)
	}
	if vicc.PcscdPID() == old {
		t.Fatalf("pcscd pid %d unchanged: not restarted", old)
	}
	insert(t, vicc.Options{UID: []byte{2, 2, 2, 2}})
	res, err := e.Personalize(opCtx(t), profile8K())
	if err != nil {
		t.Fatalf("first card after the restart: %v", err)
	}
	if !bytes.Equal(res.UID, []byte{2, 2, 2, 2}) {
		t.Errorf("UID %x", res.UID)
	}
}

func TestReaderPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    string
		err     error
		errText string
	}{
		{pattern: "Virtual PCD 00 00", want: reader0},
		{pattern: "Virtual PCD * 01", want: "Virtual PCD 00 01"},
		{pattern: "re:PCD 00 00$", want: reader0},
		{pattern: "Virtual PCD*", errText: "matches 2 readers"},
		{pattern: "Evolis*", err: chip.ErrReaderGone},
		{pattern: "re:(", errText: "missing closing"},
		{pattern: "[", errText: "syntax error"},
		{pattern: "", errText: "empty"},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			e, err := pcsc.Open(t.Context(), tc.pattern)
			if tc.want != "" {
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				if e.Reader() != tc.want {
					t.Errorf("Reader() = %q, want %q", e.Reader(), tc.want)
				}
				return
			}
			if err == nil {
				e.Close()
				t.Fatalf("Open(%q) succeeded", tc.pattern)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
			if tc.errText != "" && !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("err = %v, want it to say %q", err, tc.errText)
			}
		})
	}
}

func TestReaders(t *testing.T) {
	c := insert(t, vicc.Options{Port: vicc.Port1})
	rs, err := pcsc.Readers()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rs {
		if r.Name == c.Reader() {
			found = true
			if !r.Present || len(r.ATR) == 0 {
				t.Errorf("%s: present=%v atr=%x, want the card", r.Name, r.Present, r.ATR)
			}
		}
	}
	if !found {
		t.Errorf("reader %q not listed in %+v", c.Reader(), rs)
	}
}

func TestClosedEncoder(t *testing.T) {
	e := open(t)
	e.Close()
	if _, err := e.Personalize(t.Context(), profile8K()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Personalize on a closed encoder: %v", err)
	}
}

func TestExtendedLengthCard(t *testing.T) {
	e := open(t)
	dump := filepath.Join(t.TempDir(), "card.json")
	card := insert(t, vicc.Options{DumpPath: dump, Extended: true})
	p := profile8K()
	res, err := e.Personalize(opCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	info, err := chip.ParseATR(res.ATR)
	if err != nil || !info.ExtendedLength {
		t.Fatalf("ATR %x: extended=%v err=%v", res.ATR, info.ExtendedLength, err)
	}
	// One UPDATE and one READ per file instead of 35 + 33.
	if res.APDUs != 19 {
		t.Errorf("APDUs = %d, want 19 with extended length", res.APDUs)
	}
	if err := card.Remove(); err != nil {
		t.Fatal(err)
	}
	d, _ := vicc.ReadDump(dump)
	for _, f := range p.Files {
		if got, _ := d.File(f.FID); !bytes.Equal(got, f.Data) {
			t.Errorf("file %04X: %d bytes on the card, want %d", f.FID, len(got), len(f.Data))
		}
	}
}

func TestApplicationOnVicc(t *testing.T) {
	e := open(t)
	aid := []byte{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}
	dump := filepath.Join(t.TempDir(), "card.json")
	card := insert(t, vicc.Options{DumpPath: dump, Applications: [][]byte{aid}})
	p := profile8K()
	p.AID = aid
	if _, err := e.Personalize(opCtx(t), p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Verify(opCtx(t), p); err != nil {
		t.Fatal(err)
	}
	other := profile8K()
	other.AID = []byte{0xA0, 0x00, 0x00, 0x00, 0x99}
	if _, err := e.Verify(opCtx(t), other); !errors.Is(err, chip.ErrCardRefused) {
		t.Errorf("unknown AID: err = %v, want a SELECT refusal", err)
	}
	if err := card.Remove(); err != nil {
		t.Fatal(err)
	}
	d, _ := vicc.ReadDump(dump)
	if len(d.Files) != 4 || !strings.HasPrefix(d.Files[0].Path, "3F00/DF01/") {
		t.Errorf("files not under the application DF: %+v", d.Files)
	}
}
