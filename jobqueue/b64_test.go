package jobqueue_test

import (
	"errors"

	"crypto/ed25519"
	"encoding/base64"
	"printstation/jobqueue"
	"time"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

type ed25519PublicKey = ed25519.PublicKey

func asHTTP(err error, he **jobqueue.HTTPError) bool { return errors.As(err, he) }

type verifierFor struct{ f *fixture }

func (v *verifierFor) verify(s string) (*jobqueue.Payload, []byte, error) {
	ver := &jobqueue.Verifier{Station: station, Keys: map[string]ed25519.PublicKey{v.f.kid: v.f.key.Public().(ed25519.PublicKey)}, Now: func() time.Time { return t0 }}
	return ver.Verify(s)
}
