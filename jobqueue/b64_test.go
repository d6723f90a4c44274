package jobqueue_test

import (
	"crypto/ed25519"
	"encoding/base64"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

type ed25519PublicKey = ed25519.PublicKey
