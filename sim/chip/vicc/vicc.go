// Package vicc runs Debian's virtual smart card (vicc, python3-virtualsmartcard)
// as a blank contactless card in one of vpcd's virtual readers, so tests reach
// it through the real stack: ebfe/scard → libpcsclite → pcscd → vpcd.
//
// A card "is inserted" while its vicc process is connected to the reader's
// port and "removed" when the process exits: Start puts a fresh blank in the
// encoder, Remove takes it out and leaves a JSON dump of what the card holds.
package vicc

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ebfe/scard"
)

//go:embed launcher.py
var launcher []byte

// Ports vpcd listens on, one per virtual reader.
const (
	Port0 = 35963 // "Virtual PCD 00 00"
	Port1 = 35964 // "Virtual PCD 00 01"
)

// Python is the interpreter vicc needs (the machine's default python3 may be
// another one, without the Debian packages).
var Python = "/usr/bin/python3"

// Options for one card.
type Options struct {
	Port int    // vpcd port; 0 means Port0
	UID  []byte // answered to FF CA 00 00 00; nil: the card does not answer it
	// DumpPath receives the card's files as JSON when it leaves the reader.
	DumpPath string
	// DropAfterWrites > 0: the card leaves the field instead of answering
	// UPDATE BINARY number DropAfterWrites+1 (a card pulled mid-write).
	DropAfterWrites int
	// Applications are DFs (FID DF01, DF02, …) named by these AIDs, present
	// on the blank as the card maker delivers it.
	Applications [][]byte
	// Restore is a dump (DumpPath of an earlier card) whose files this card
	// starts with: the same card taken away and tapped on a reader again.
	Restore string
	// Extended makes the card announce (ATR card capabilities) and accept
	// extended-length APDUs.
	Extended bool
}

// Card is one running virtual card.
type Card struct {
	reader string
	dump   string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	waitMu sync.Mutex
	waited error
	once   sync.Once
	remErr error
}

// ReaderName is the PC/SC name vpcd gives the reader on port.
func ReaderName(port int) string {
	return fmt.Sprintf("Virtual PCD 00 %02d", port-Port0)
}

var (
	scriptOnce sync.Once
	scriptPath string
	scriptErr  error
)

func script() (string, error) {
	scriptOnce.Do(func() {
		dir, err := os.MkdirTemp("", "printstation-vicc-")
		if err != nil {
			scriptErr = err
			return
		}
		scriptPath = filepath.Join(dir, "launcher.py")
		scriptErr = os.WriteFile(scriptPath, launcher, 0o600)
	})
	return scriptPath, scriptErr
}

// Start launches a card and returns once pcscd sees it in the reader (or
// ctx ends). The card stays until Remove, whatever happens to ctx.
func Start(ctx context.Context, o Options) (*Card, error) {
	if o.Port == 0 {
		o.Port = Port0
	}
	if o.Port < Port0 || o.Port > Port0+99 {
		return nil, fmt.Errorf("vicc: port %d is not a vpcd port (%d, %d, …)", o.Port, Port0, Port1)
	}
	if len(o.UID) > 16 {
		return nil, fmt.Errorf("vicc: UID of %d bytes, at most 16", len(o.UID))
	}
	for _, aid := range o.Applications {
		if len(aid) < 5 || len(aid) > 16 {
			return nil, fmt.Errorf("vicc: application AID of %d bytes, ISO 7816-4 allows 5 to 16", len(aid))
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
	}
	if err := holdShared(ctx); err != nil {
		return nil, fmt.Errorf("vicc: %w", err)
	}
	path, err := script()
	if err != nil {
		return nil, fmt.Errorf("vicc: write launcher: %w", err)
	}
	reader := ReaderName(o.Port)
	w, err := newWatcher()
	if err != nil {
		return nil, err
	}
	defer w.close()
	if present, err := w.present(reader); err != nil {
		return nil, err
	} else if present {
		return nil, fmt.Errorf("vicc: reader %q already holds a card — a vicc from an earlier test still running?", reader)
	}

	args := []string{path, "--port", fmt.Sprint(o.Port)}
	if o.UID != nil {
		args = append(args, "--uid", hex.EncodeToString(o.UID))
	}
	if o.DumpPath != "" {
		_ = os.Remove(o.DumpPath)
		args = append(args, "--dump", o.DumpPath)
	}
	if o.DropAfterWrites > 0 {
		args = append(args, "--drop-after-writes", fmt.Sprint(o.DropAfterWrites))
	}
	if o.Extended {
		args = append(args, "--extended")
	}
	if o.Restore != "" {
		args = append(args, "--restore", o.Restore)
	}
	for _, aid := range o.Applications {
		args = append(args, "--app", hex.EncodeToString(aid))
	}
	c := &Card{reader: reader, dump: o.DumpPath, out: &lockedBuffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(Python, args...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // no vicc outlives its test
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("vicc: start %s: %w", Python, err)
	}
	go func() {
		err := c.cmd.Wait()
		c.waitMu.Lock()
		c.waited = err
		c.waitMu.Unlock()
		close(c.exited)
	}()
	if err := w.waitState(ctx, reader, true, c.exited); err != nil {
		_ = c.stop()
		return nil, fmt.Errorf("vicc on %q: card not seen by pcscd: %w (vicc said: %s)", reader, err, c.out.tail())
	}
	return c, nil
}

// Reader is the PC/SC reader name the card sits in.
func (c *Card) Reader() string { return c.reader }

// Gone is closed once the card has left the reader (dropped or removed).
func (c *Card) Gone() <-chan struct{} { return c.exited }

// Remove takes the card out of the reader. It returns once the process has
// exited, its dump is written and pcscd sees the reader empty.
func (c *Card) Remove() error {
	c.once.Do(func() { c.remErr = c.remove() })
	return c.remErr
}

func (c *Card) remove() error {
	if err := c.stop(); err != nil {
		return err
	}
	if c.dump != "" {
		if _, err := os.Stat(c.dump); err != nil {
			return fmt.Errorf("vicc on %q: no dump after removal: %w (vicc said: %s)", c.reader, err, c.out.tail())
		}
	}
	w, err := newWatcher()
	if err != nil {
		return err
	}
	defer w.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.waitState(ctx, c.reader, false, nil); err != nil {
		return fmt.Errorf("vicc on %q: pcscd still sees a card after removal: %w", c.reader, err)
	}
	return nil
}

// stop ends the process (SIGTERM: the launcher dumps, then exits).
func (c *Card) stop() error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return nil
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("vicc on %q did not exit on SIGTERM; killed", c.reader)
	}
}

// Dump is what a card held when it left the reader.
type Dump struct {
	UID     string     `json:"uid"` // hex, "" when the card had none
	Writes  int        `json:"writes"`
	Dropped bool       `json:"dropped"` // left mid-write (DropAfterWrites)
	Files   []DumpFile `json:"files"`
}

// DumpFile is one EF.
type DumpFile struct {
	Path   string `json:"path"` // "3F00/0101"
	FID    string `json:"fid"`
	Data   string `json:"data"` // hex
	Locked bool   `json:"locked"`
}

// File returns the content of the EF with this FID.
func (d Dump) File(fid uint16) ([]byte, bool) {
	want := fmt.Sprintf("%04X", fid)
	for _, f := range d.Files {
		if f.FID == want {
			b, err := hex.DecodeString(f.Data)
			return b, err == nil
		}
	}
	return nil, false
}

// ReadDump reads a dump written by a card on removal.
func ReadDump(path string) (Dump, error) {
	var d Dump
	b, err := os.ReadFile(path)
	if err != nil {
		return d, fmt.Errorf("vicc dump: %w", err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("vicc dump %s: %w", path, err)
	}
	return d, nil
}

// watcher is a PC/SC context used only to watch reader states.
type watcher struct{ ctx *scard.Context }

func newWatcher() (*watcher, error) {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("vicc: PC/SC not available (is pcscd running? scripts/testbed-up.sh starts it): %w", err)
	}
	return &watcher{ctx: ctx}, nil
}

func (w *watcher) close() { _ = w.ctx.Release() }

func (w *watcher) present(reader string) (bool, error) {
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	if err := w.ctx.GetStatusChange(rs, 0); err != nil {
		return false, fmt.Errorf("vicc: state of %q: %w (is vsmartcard-vpcd installed?)", reader, err)
	}
	if rs[0].EventState&(scard.StateUnknown|scard.StateIgnore) != 0 {
		return false, fmt.Errorf("vicc: pcscd has no reader %q (is vsmartcard-vpcd installed?)", reader)
	}
	return rs[0].EventState&scard.StatePresent != 0, nil
}

// waitState polls (short GetStatusChange waits) until the reader's card
// presence is want, ctx ends or abort closes.
func (w *watcher) waitState(ctx context.Context, reader string, want bool, abort <-chan struct{}) error {
	for {
		p, err := w.present(reader)
		if err != nil {
			return err
		}
		if p == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-abort:
			return errors.New("vicc exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil // enough to explain a failure
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	if s == "" {
		return "(nothing)"
	}
	return s
}
