package jobqueue

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DataKeySize is the size of the station data key (AES-256).
const DataKeySize = 32

// ErrKeyPermissions is returned for a key file that others could read.
var ErrKeyPermissions = errors.New("data key file is readable by group or others")

// LoadDataKey reads the station data key. A bare name (no slash) is looked up
// in the systemd credentials directory ($CREDENTIALS_DIRECTORY/<name>) when
// the service runs with LoadCredential=; anything else is a file path. The
// file must not be readable by group or others. It holds 32 bytes, raw, as 64
// hex digits or as base64.
func LoadDataKey(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("data key: no path given (set the data key path or a systemd credential name in the config)")
	}
	if !strings.ContainsRune(path, '/') {
		if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
			path = filepath.Join(dir, path)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("data key %s: %w (create one with `printstationctl datakey create` or provide it as a systemd credential)", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("data key %s: not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("data key %s has mode %04o: %w; run `chmod 600 %s`", path, fi.Mode().Perm(), ErrKeyPermissions, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data key %s: %w", path, err)
	}
	key, err := decodeKey(b)
	if err != nil {
		return nil, fmt.Errorf("data key %s: %w", path, err)
	}
	return key, nil
}

func decodeKey(b []byte) ([]byte, error) {
	if len(b) == DataKeySize {
		return b, nil
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == DataKeySize {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == DataKeySize {
		return k, nil
	}
	return nil, fmt.Errorf("want %d bytes (raw, 64 hex digits or base64), file holds something else", DataKeySize)
}

// CreateDataKey writes a new random key as hex to path with mode 0600. It
// refuses to overwrite an existing file: losing the key loses queued jobs.
func CreateDataKey(path string) ([]byte, error) {
	key := make([]byte, DataKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("data key %s already exists; not overwriting it (queued jobs are encrypted under it)", path)
		}
		return nil, fmt.Errorf("data key %s: %w", path, err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("data key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// sealer encrypts personal data with AES-GCM, binding each blob to its job id
// so a blob copied onto another job's row does not decrypt.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("data key is %d bytes, want %d", len(key), DataKeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &sealer{g}, nil
}

func (s *sealer) seal(jobID string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(jobID))
}

// ErrDecrypt means the data key does not open a job's data (wrong key or a
// tampered row).
var ErrDecrypt = errors.New("cannot decrypt job data (wrong station data key, or the row was altered)")

func (s *sealer) open(jobID string, blob []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(blob) < n+s.aead.Overhead() {
		return nil, ErrDecrypt
	}
	p, err := s.aead.Open(nil, blob[:n], blob[n:], []byte(jobID))
	if err != nil {
		return nil, ErrDecrypt
	}
	return p, nil
}
