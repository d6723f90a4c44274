package inventory

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/storage"
)

// Checkpoint is a signed statement of the tree's size and root hash.
type Checkpoint struct {
	Origin string
	Size   int64
	Hash   tlog.Hash
	Note   []byte // the signed note (text and signature lines)
}

// FormatCheckpoint writes the checkpoint body: the tlog.FormatTree lines
// (size, base64 root hash) under an origin line naming the station instead
// of tlog's fixed "go.sum database tree" header.
func FormatCheckpoint(origin string, t tlog.Tree) []byte {
	body := bytes.TrimPrefix(tlog.FormatTree(t), []byte("go.sum database tree\n"))
	return append([]byte(origin+"\n"), body...)
}

// ParseCheckpoint parses a checkpoint body (the text of a note).
func ParseCheckpoint(text []byte) (origin string, t tlog.Tree, err error) {
	origin, rest, ok := strings.Cut(string(text), "\n")
	if !ok || origin == "" {
		return "", tlog.Tree{}, errors.New("checkpoint has no origin line")
	}
	t, err = tlog.ParseTree(append([]byte("go.sum database tree\n"), rest...))
	if err != nil {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint for %q: %w", origin, err)
	}
	return origin, t, nil
}

// CheckpointKey is the outbox idempotency key of a checkpoint.
func CheckpointKey(origin string, size int64) string {
	return origin + "@" + strconv.FormatInt(size, 10)
}

// Checkpoint signs the tree as it stands and queues it for the central
// server's cosignature. The engine calls it at shutdown; Append calls it
// every CheckpointEvery events and at shift close. ex may be the *sql.DB
// (a transaction is opened) or the caller's *sql.Tx. A second call at the
// same size returns the stored checkpoint.
func (l *Ledger) Checkpoint(ctx context.Context, ex storage.Execer) (Checkpoint, error) {
	if db, ok := ex.(*sql.DB); ok {
		var c Checkpoint
		err := storage.InTx(ctx, db, func(tx *sql.Tx) error {
			var err error
			c, err = l.checkpoint(ctx, tx)
			return err
		})
		return c, err
	}
	return l.checkpoint(ctx, ex)
}

func (l *Ledger) checkpoint(ctx context.Context, ex storage.Execer) (Checkpoint, error) {
	var size int64
	if err := ex.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq)+1, 0) FROM ledger_events`).Scan(&size); err != nil {
		return Checkpoint{}, fmt.Errorf("inventory: checkpoint: tree size: %w", err)
	}
	var stored []byte
	switch err := ex.QueryRowContext(ctx, `SELECT note FROM ledger_checkpoints WHERE size = ?`, size).Scan(&stored); {
	case err == nil:
		_, t, err := ParseCheckpoint(noteText(stored))
		if err != nil {
			return Checkpoint{}, fmt.Errorf("inventory: stored checkpoint at size %d: %w", size, err)
		}
		return Checkpoint{Origin: l.origin, Size: size, Hash: t.Hash, Note: stored}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return Checkpoint{}, fmt.Errorf("inventory: checkpoint: %w", err)
	}
	h, err := tlog.TreeHash(size, hashReader(ctx, ex))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("inventory: checkpoint: tree hash at size %d: %w", size, err)
	}
	msg, err := note.Sign(&note.Note{Text: string(FormatCheckpoint(l.origin, tlog.Tree{N: size, Hash: h}))}, l.opt.Signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("inventory: sign checkpoint: %w", err)
	}
	if _, err := ex.ExecContext(ctx, `INSERT INTO ledger_checkpoints(size, hash, note, at) VALUES(?,?,?,?)`,
		size, h[:], msg, formatTime(l.opt.Now())); err != nil {
		return Checkpoint{}, fmt.Errorf("inventory: store checkpoint: %w", err)
	}
	if l.opt.Outbox != nil {
		if err := l.opt.Outbox.Enqueue(ctx, ex, CheckpointKind, CheckpointKey(l.origin, size), msg); err != nil {
			return Checkpoint{}, fmt.Errorf("inventory: queue checkpoint %d for cosigning: %w", size, err)
		}
	}
	l.log.Info().Int64("size", size).Str("root", h.String()).Msg("ledger checkpoint signed")
	return Checkpoint{Origin: l.origin, Size: size, Hash: h, Note: msg}, nil
}

// noteText returns the text part of a signed note (up to the blank line).
func noteText(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		return msg[:i+1]
	}
	return msg
}

// ErrCosignature is returned by StoreCosigned for a checkpoint that cannot
// be accepted; the message says why.
var ErrCosignature = errors.New("inventory: cosigned checkpoint rejected")

// StoreCosigned stores a checkpoint the central server handed back with its
// cosignature. It must carry this station's signature, match this ledger's
// tree at its size, and (when Options.CentreVerifier is set) carry a valid
// signature of the centre.
func (l *Ledger) StoreCosigned(ctx context.Context, msg []byte) error {
	if l.verifier == nil {
		return fmt.Errorf("%w: the station's verifier key is unknown (pass Options.VerifierKey)", ErrCosignature)
	}
	vs := []note.Verifier{l.verifier}
	if l.opt.CentreVerifier != nil {
		vs = append(vs, l.opt.CentreVerifier)
	}
	n, err := note.Open(msg, note.VerifierList(vs...))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCosignature, err)
	}
	var station, centre bool
	for _, s := range n.Sigs {
		station = station || (s.Name == l.verifier.Name() && s.Hash == l.verifier.KeyHash())
		if c := l.opt.CentreVerifier; c != nil {
			centre = centre || (s.Name == c.Name() && s.Hash == c.KeyHash())
		}
	}
	if !station {
		return fmt.Errorf("%w: not signed by this station's key %s", ErrCosignature, l.verifier.Name())
	}
	if l.opt.CentreVerifier != nil && !centre {
		return fmt.Errorf("%w: no valid signature of the centre key %s", ErrCosignature, l.opt.CentreVerifier.Name())
	}
	origin, t, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCosignature, err)
	}
	if origin != l.origin {
		return fmt.Errorf("%w: origin %q is not this station's %q", ErrCosignature, origin, l.origin)
	}
	return storage.InTx(ctx, l.db, func(tx *sql.Tx) error {
		var size int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq)+1, 0) FROM ledger_events`).Scan(&size); err != nil {
			return fmt.Errorf("inventory: store cosigned: %w", err)
		}
		if t.N > size {
			return fmt.Errorf("%w: it covers %d events but this ledger has %d", ErrCosignature, t.N, size)
		}
		h, err := tlog.TreeHash(t.N, hashReader(ctx, tx))
		if err != nil {
			return fmt.Errorf("inventory: store cosigned: tree hash at %d: %w", t.N, err)
		}
		if h != t.Hash {
			return fmt.Errorf("%w: root hash at size %d differs from this ledger's", ErrCosignature, t.N)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_cosigned(size, note, at) VALUES(?,?,?)`, t.N, msg, formatTime(l.opt.Now())); err != nil {
			return fmt.Errorf("inventory: store cosigned checkpoint: %w", err)
		}
		return nil
	})
}

// stationSigner is a note.Signer that also knows its verifier key, so that
// Open can store the vkey in the database for auditors.
type stationSigner struct {
	note.Signer
	vkey string
}

func (s stationSigner) VerifierKey() string { return s.vkey }

// LoadOrCreateSigner reads the station's signing key from path, or creates
// one named name there (mode 0600) with its public verifier key beside it in
// path+".pub". The returned Signer also has a VerifierKey() string method.
func LoadOrCreateSigner(path, name string) (note.Signer, note.Verifier, error) {
	pub := path + ".pub"
	skey, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		s, v, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, nil, fmt.Errorf("inventory: create station key %q: %w", name, err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, nil, fmt.Errorf("inventory: create station key: %w", err)
		}
		// O_EXCL: two processes starting at once must not each make a key.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("inventory: create station key: %w", err)
		}
		if _, err := f.WriteString(s + "\n"); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("inventory: write station key %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("inventory: write station key %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return nil, nil, fmt.Errorf("inventory: write station key %s: %w", path, err)
		}
		if err := os.WriteFile(pub, []byte(v+"\n"), 0o644); err != nil {
			return nil, nil, fmt.Errorf("inventory: write verifier key %s: %w", pub, err)
		}
		skey = []byte(s)
	} else if err != nil {
		return nil, nil, fmt.Errorf("inventory: read station key: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("inventory: station key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, nil, fmt.Errorf("inventory: station key %s is readable by others (mode %v): run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, nil, fmt.Errorf("inventory: station key %s is not a note signer key: %w", path, err)
	}
	if signer.Name() != name {
		return nil, nil, fmt.Errorf("inventory: station key %s is named %q, configuration says %q", path, signer.Name(), name)
	}
	vkey, err := os.ReadFile(pub)
	if errors.Is(err, os.ErrNotExist) {
		// A key loaded as a systemd credential comes alone: its verifier
		// key follows from it.
		v, derr := verifierOf(strings.TrimSpace(string(skey)))
		if derr != nil {
			return nil, nil, fmt.Errorf("inventory: station key %s: %w", path, derr)
		}
		vkey, err = []byte(v), nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("inventory: verifier key beside the station key: %w", err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return nil, nil, fmt.Errorf("inventory: verifier key %s: %w", pub, err)
	}
	if verifier.Name() != signer.Name() || verifier.KeyHash() != signer.KeyHash() {
		return nil, nil, fmt.Errorf("inventory: verifier key %s does not match the station key %s", pub, path)
	}
	return stationSigner{Signer: signer, vkey: strings.TrimSpace(string(vkey))}, verifier, nil
}

// verifierOf derives the verifier key of an Ed25519 note signer key
// ("PRIVATE+KEY+name+hash+base64(alg‖seed)"); note.NewVerifier then checks
// that name and hash agree with the public key.
func verifierOf(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5) // base64 may hold "+"
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a note signer key")
	}
	b, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(b) != 1+ed25519.SeedSize || b[0] != 1 {
		return "", errors.New("not an Ed25519 note signer key")
	}
	pub := ed25519.NewKeyFromSeed(b[1:]).Public().(ed25519.PublicKey)
	vkey := parts[2] + "+" + parts[3] + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, pub...))
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", fmt.Errorf("derived verifier key does not match the key's hash: %w", err)
	}
	return vkey, nil
}
