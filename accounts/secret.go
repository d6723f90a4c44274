package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's costs. Defaults follow OWASP's password storage
// advice for argon2id (19 MiB, two passes, one lane): about 30 ms a try on
// the station computer, so a guesser gets a few dozen tries a second at
// most, and the lockout stops them long before.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
}

// DefaultParams are used for new secrets and for the work done on an
// unknown name.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32}

// idKey is argon2id; a variable so the timing-parity test can count
// the calls and their costs on every path of SignIn.
var idKey = argon2id

// argon2id is argon2.IDKey, then the memory it used handed back to the
// system. Each hash takes Params.Memory (19 MiB) from the Go heap at once;
// left to the collector and the runtime's slow background return, that
// block stayed in the daemon's resident memory long after a sign-in (and
// after the hash at start), where the station's whole steady state is
// ≈ 10 MiB of heap. A forced collection on a heap that small costs a few
// milliseconds, against the hash's 40–70 ms, once a sign-in — never per
// card.
func argon2id(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	k := argon2.IDKey(password, salt, time, memory, threads, keyLen)
	debug.FreeOSMemory()
	return k
}

const saltLen = 16

// Secret limits: a password of at least 8 characters, or a numeric PIN of
// at least 6 digits; never more than 256 bytes (argon2 takes any length,
// the limit is for the request bodies).
const (
	minPassword = 8
	minPIN      = 6
	maxSecret   = 256
)

// ErrWeakSecret means a new secret is too short or malformed.
var ErrWeakSecret = errors.New("secret too weak")

// CheckSecret says whether s may become an account's secret.
func CheckSecret(s []byte) error {
	if len(s) > maxSecret {
		return fmt.Errorf("%w: at most %d bytes", ErrWeakSecret, maxSecret)
	}
	if !utf8.Valid(s) {
		return fmt.Errorf("%w: not valid text", ErrWeakSecret)
	}
	str := string(s)
	if strings.TrimSpace(str) != str {
		return fmt.Errorf("%w: it starts or ends with a space", ErrWeakSecret)
	}
	digits := str != ""
	for _, r := range str {
		if !unicode.IsDigit(r) {
			digits = false
		}
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: it has control characters", ErrWeakSecret)
		}
	}
	n := utf8.RuneCountInString(str)
	if digits && n < minPIN {
		return fmt.Errorf("%w: a PIN needs at least %d digits", ErrWeakSecret, minPIN)
	}
	if !digits && n < minPassword {
		return fmt.Errorf("%w: a password needs at least %d characters (or use a PIN of at least %d digits)", ErrWeakSecret, minPassword, minPIN)
	}
	return nil
}

// decoyHash is a stored form with p's costs, a random salt and a random
// key: what a sign-in for a name no account has is checked against. No
// secret hashes to its key.
func decoyHash(p Params) (string, error) {
	b := make([]byte, saltLen+int(p.KeyLen))
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("accounts: salt: %w", err)
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc.EncodeToString(b[:saltLen]), enc.EncodeToString(b[saltLen:])), nil
}

// hashSecret makes the stored form, in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$key), so the costs can be raised
// later without breaking old secrets.
func hashSecret(secret []byte, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("accounts: salt: %w", err)
	}
	key := idKey(secret, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

type storedHash struct {
	p    Params
	salt []byte
	key  []byte
}

// Costs beyond these are refused when parsing a stored hash, so an edited
// row cannot make one sign-in eat the station's memory.
const (
	maxMemory = 256 * 1024
	maxTime   = 16
)

func parseHash(s string) (storedHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return storedHash{}, errors.New("not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return storedHash{}, fmt.Errorf("argon2 version %q", parts[2])
	}
	var h storedHash
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.p.Memory, &h.p.Time, &h.p.Threads); err != nil {
		return storedHash{}, fmt.Errorf("argon2 costs %q: %w", parts[3], err)
	}
	if h.p.Memory == 0 || h.p.Memory > maxMemory || h.p.Time == 0 || h.p.Time > maxTime || h.p.Threads == 0 {
		return storedHash{}, fmt.Errorf("argon2 costs %q out of range", parts[3])
	}
	var err error
	enc := base64.RawStdEncoding
	if h.salt, err = enc.DecodeString(parts[4]); err != nil {
		return storedHash{}, fmt.Errorf("salt: %w", err)
	}
	if h.key, err = enc.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return storedHash{}, fmt.Errorf("key: bad length or encoding")
	}
	h.p.KeyLen = uint32(len(h.key))
	return h, nil
}

// matches does the one argon2 computation of a sign-in and compares in
// constant time.
func (h storedHash) matches(secret []byte) bool {
	got := idKey(secret, h.salt, h.p.Time, h.p.Memory, h.p.Threads, h.p.KeyLen)
	return subtle.ConstantTimeCompare(got, h.key) == 1
}
