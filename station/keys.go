package station

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// credentialOr returns the systemd credential of that name when the
// service has one ($CREDENTIALS_DIRECTORY), else the fallback file.
func credentialOr(fallback, credential string) string {
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		p := filepath.Join(dir, credential)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return fallback
}

// loadOrCreateKey reads the station's data key from the configured path,
// a systemd credential, or a file in the storage directory that is created
// (0600) on first start.
func loadOrCreateKey(configured, storageDir, file, credential string,
	load func(string) ([]byte, error), create func(string) ([]byte, error)) ([]byte, error) {
	p := configured
	if p == "" {
		p = credentialOr(filepath.Join(storageDir, file), credential)
	}
	k, err := load(p)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("station data key %s: %w", p, err)
	}
	k, err = create(p)
	if err != nil {
		return nil, fmt.Errorf("creating the station data key %s: %w", p, err)
	}
	return k, nil
}
