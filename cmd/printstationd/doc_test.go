package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpManCompletion(t *testing.T) {
	for _, c := range commands {
		var out, errs bytes.Buffer
		if code := run([]string{c.Words, "--help"}, &out, &errs); code != 0 || !strings.HasPrefix(out.String(), "usage: printstationd "+c.Words) {
			t.Errorf("%s --help: exit %d\n%s%s", c.Words, code, out.String(), errs.String())
		}
	}
	var out bytes.Buffer
	run([]string{"run", "--help"}, &out, &out)
	if !strings.Contains(out.String(), "-config") {
		t.Errorf("run --help lacks the -config flag run parses:\n%s", out.String())
	}
	var man bytes.Buffer
	if code := run([]string{"help", "--man"}, &man, &man); code != 0 || !strings.Contains(man.String(), ".TH PRINTSTATIOND 8") || !strings.Contains(man.String(), `\-config`) {
		t.Fatalf("help --man: exit %d\n%s", code, man.String())
	}
	if groff, err := exec.LookPath("groff"); err == nil {
		cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = &man
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff warns about the man page: %v\n%s", err, out)
		}
	}
	var comp bytes.Buffer
	run([]string{"completion", "bash"}, &comp, &comp)
	if out, err := exec.Command("bash", "-n", "-c", comp.String()).CombinedOutput(); err != nil || !strings.Contains(comp.String(), "network-allow") {
		t.Errorf("completion: %v\n%s\n%s", err, out, comp.String())
	}
}

func TestNetworkAllow(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "issuer.pub"), []byte("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n"), 0o644)
	cfg := filepath.Join(dir, "station.toml")
	os.WriteFile(cfg, []byte(`station_id = "ST-1"
storage_dir = "`+dir+`"
[central]
url = "https://203.0.113.10:8443"
[[central.issuer_key]]
id = "k"
file = "issuer.pub"
[metrics]
listen = "192.0.2.50:9464"
[[printer]]
name = "p1"
transport = "tcp"
address = "192.0.2.10:9100"
[[printer]]
name = "p2"
transport = "tcp"
address = "127.0.0.1:9100"
`), 0o644)
	var out, errs bytes.Buffer
	if code := run([]string{"network-allow", "--config", cfg, "--allow", "198.51.100.0/24"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	got := out.String()
	for _, want := range []string{"[Service]\n", "IPAddressAllow=203.0.113.10\n", "# printer p1 192.0.2.10:9100\nIPAddressAllow=192.0.2.10\n", "IPAddressAllow=198.51.100.0/24\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("drop-in lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "127.0.0.1") {
		t.Errorf("loopback printer listed (the unit allows localhost already):\n%s", got)
	}
	if code := run([]string{"network-allow", "--config", cfg, "--allow", "not-an-ip"}, &out, &errs); code != 2 {
		t.Errorf("--allow not-an-ip: exit %d, want 2", code)
	}
}
