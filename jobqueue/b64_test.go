package jobqueue_test

import (
	"errors"

	"crypto/ed25519"
	"encoding/base64"
	"printstation/jobqueue"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

type ed25519PublicKey = ed25519.PublicKey

func asHTTP(err error, he **jobqueue.HTTPError) bool { return errors.As(err, he) }
