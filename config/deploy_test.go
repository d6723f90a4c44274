package config

import (
	"errors"
	"strings"
	"testing"
)

// The annotated config the package installs is valid but for the files a
// station must bring (its certificate, key and the issuer's key): no
// unknown key, no bad value, and it asks for metrics on loopback.
func TestPackagedConfig(t *testing.T) {
	_, err := Load("../deploy/station.toml")
	var ps Problems
	if err == nil {
		t.Fatal("the packaged config names files that do not exist here, yet it loaded")
	}
	if !errors.As(err, &ps) {
		t.Fatalf("want only missing-file problems, got %v", err)
	}
	for _, p := range ps {
		if !strings.Contains(p.Msg, "does not exist") {
			t.Errorf("packaged station.toml: %s", p)
		}
	}
	if d := Defaults().Metrics.Listen; d != "127.0.0.1:9464" {
		t.Errorf("metrics default %q, want loopback 127.0.0.1:9464", d)
	}
}
