// Package prometheus holds the fleet's alert rules (alerts.yml); its test
// runs them through promtool and checks they name only series the daemon
// exports.
package prometheus

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func TestAlertRules(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatal("promtool not installed (scripts/deps.sh installs the Debian package prometheus)")
	}
	out, err := exec.Command("promtool", "test", "rules", "alerts_test.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	// Every station series an alert uses is one the daemon exports (the
	// golden list the scrape test of the real daemon checks).
	golden, err := os.ReadFile("../../test/testdata/metrics.golden")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, l := range strings.Split(string(golden), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			exported[f[0]] = true
		}
	}
	rules, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`printstation_[a-z_]+`).FindAllString(string(rules), -1)
	if len(used) == 0 {
		t.Fatal("alerts.yml uses no printstation series")
	}
	for _, name := range used {
		if !exported[name] {
			t.Errorf("alerts.yml uses %s, which the daemon does not export", name)
		}
	}
}
