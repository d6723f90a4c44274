package jobqueue

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
)

// IssuerKeyFile is the JSON file that pins the issuer's public keys:
//
//	{"keys": [{"kid": "issuer-2026-1", "ed25519": "<base64 of 32 bytes>"}]}
//
// Several keys let the centre rotate: the new one is pinned before it signs.
type IssuerKeyFile struct {
	Keys []IssuerKey `json:"keys"`
}

// IssuerKey is one pinned key.
type IssuerKey struct {
	KID     string `json:"kid"`
	Ed25519 string `json:"ed25519"`
}

// ParseIssuerKeys reads an issuer key file's bytes.
func ParseIssuerKeys(b []byte) (map[string]ed25519.PublicKey, error) {
	var f IssuerKeyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("issuer keys: %s", scrubJSONErr(err))
	}
	if len(f.Keys) == 0 {
		return nil, fmt.Errorf("issuer keys: no keys listed")
	}
	out := map[string]ed25519.PublicKey{}
	for i, k := range f.Keys {
		if k.KID == "" {
			return nil, fmt.Errorf("issuer keys: key %d has no kid", i+1)
		}
		if _, dup := out[k.KID]; dup {
			return nil, fmt.Errorf("issuer keys: kid %q listed twice", k.KID)
		}
		raw, err := base64.StdEncoding.DecodeString(k.Ed25519)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("issuer keys: key %q is not a base64 Ed25519 public key (32 bytes)", k.KID)
		}
		out[k.KID] = ed25519.PublicKey(raw)
	}
	return out, nil
}

// LoadIssuerKeys reads an issuer key file.
func LoadIssuerKeys(path string) (map[string]ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("issuer keys: %w", err)
	}
	keys, err := ParseIssuerKeys(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// MarshalIssuerKeys writes keys in the issuer key file format.
func MarshalIssuerKeys(keys map[string]ed25519.PublicKey) ([]byte, error) {
	var f IssuerKeyFile
	for kid, k := range keys {
		f.Keys = append(f.Keys, IssuerKey{KID: kid, Ed25519: base64.StdEncoding.EncodeToString(k)})
	}
	return json.MarshalIndent(f, "", "  ")
}
