// Package packaging builds the Debian package (scripts/deb.sh, mkdeb) and
// its test installs it into a throwaway root with dpkg.
package packaging

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"printstation/internal/golden"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ids reads a passwd or group file of the root: id → name.
func ids(t *testing.T, path string) map[int]string {
	t.Helper()
	m := map[int]string{0: "root"}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (the postinst's systemd-sysusers should have written it)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ":")
		if len(parts) >= 3 {
			if n, err := strconv.Atoi(parts[2]); err == nil {
				m[n] = parts[0]
			}
		}
	}
	return m
}

// manifest lists every entry under root but dpkg's own database: mode,
// owner and group by the root's own names, path.
func manifest(t *testing.T, root string) string {
	t.Helper()
	users, groups := ids(t, filepath.Join(root, "etc/passwd")), ids(t, filepath.Join(root, "etc/group"))
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		switch rel {
		case "var/lib/dpkg":
			return fs.SkipDir
		case ".", "etc/.pwd.lock": // the root itself; sysusers' lock file
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		u, g := users[int(st.Uid)], groups[int(st.Gid)]
		if u == "" {
			u = fmt.Sprint(st.Uid)
		}
		if g == "" {
			g = fmt.Sprint(st.Gid)
		}
		lines = append(lines, fmt.Sprintf("%s %s:%s /%s", fi.Mode(), u, g, rel))
		return nil
	})
	sort.Slice(lines, func(i, j int) bool {
		return lines[i][strings.LastIndex(lines[i], " /"):] < lines[j][strings.LastIndex(lines[j], " /"):]
	})
	return strings.Join(lines, "\n") + "\n"
}

func sum(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// TestDebInstallUpgradePurge builds the package as make deb does (lintian
// included), installs it into an empty root with dpkg --root, checks every
// file, owner and mode against the golden manifest, then upgrades and purges
// it and checks that the station database and an edited config survive as
// they must.
func TestDebInstallUpgradePurge(t *testing.T) {
	for _, tool := range []string{"dpkg", "lintian", "systemd-sysusers", "systemd-tmpfiles", "deb-systemd-helper"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (scripts/deps.sh installs what make deb and this test need)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("the install test runs dpkg --root, which needs root (CI runs as root)")
	}
	tmp := t.TempDir()
	stage, out := filepath.Join(tmp, "stage"), filepath.Join(tmp, "dist")
	env := []string{"STAGE=" + stage, "OUT=" + out, "SOURCE_DATE_EPOCH=1795996800"}
	run(t, append(env, "VERSION=0.1.0"), "scripts/deb.sh")
	deb1 := filepath.Join(out, "printstation_0.1.0_"+runtime.GOARCH+".deb")
	deb2 := filepath.Join(out, "printstation_0.1.1_"+runtime.GOARCH+".deb")
	run(t, env, "go", "run", "./packaging/mkdeb", "-stage", stage, "-version", "0.1.1", "-out", deb2)

	root := filepath.Join(tmp, "root")
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/available"), nil, 0o644)
	// Maintainer scripts run on this machine with DPKG_ROOT set; the
	// dependencies are this machine's, not the empty root's.
	dpkg := func(args ...string) string {
		return run(t, nil, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends", "--force-confold"}, args...)...)
	}

	dpkg("-i", deb1)
	golden.Check(t, filepath.Join("testdata", "installed.golden"), []byte(manifest(t, root)))
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), "printstation:x:") || !strings.Contains(string(passwd), ":/var/lib/printstation:/usr/sbin/nologin") {
		t.Errorf("the service user is not a system user with no shell:\n%s", passwd)
	}

	// A station at work: its database, and an admin's edit of the config.
	db := filepath.Join(root, "var/lib/printstation/station.db")
	os.WriteFile(db, bytes.Repeat([]byte("ledger "), 1000), 0o600)
	st, _ := os.Stat(filepath.Dir(db))
	os.Chown(db, int(st.Sys().(*syscall.Stat_t).Uid), int(st.Sys().(*syscall.Stat_t).Gid))
	dbSum := sum(t, db)
	conf := filepath.Join(root, "etc/printstation/station.toml")
	edited := strings.Replace(string(must(os.ReadFile(conf))), `station_id = "ST-0000-00"`, `station_id = "ST-3201-07"`, 1)
	os.WriteFile(conf, []byte(edited), 0o640)

	dpkg("-i", deb2)
	if got := string(must(os.ReadFile(conf))); got != edited {
		t.Error("the upgrade replaced the edited /etc/printstation/station.toml")
	}
	if sum(t, db) != dbSum {
		t.Error("the upgrade changed station.db")
	}
	afterUpgrade := manifest(t, root)
	if !strings.Contains(afterUpgrade, "-rw------- printstation:printstation /var/lib/printstation/station.db") {
		t.Errorf("station.db lost its owner or mode on upgrade:\n%s", afterUpgrade)
	}
	if !strings.Contains(afterUpgrade, "-rw-r----- root:printstation /etc/printstation/station.toml") {
		t.Errorf("the kept config lost its group or mode on upgrade:\n%s", afterUpgrade)
	}
	if strings.Replace(afterUpgrade, "-rw------- printstation:printstation /var/lib/printstation/station.db\n", "", 1) != string(must(os.ReadFile(filepath.Join("testdata", "installed.golden")))) {
		t.Errorf("after the upgrade the files differ from a fresh install:\n%s", afterUpgrade)
	}

	dpkg("--purge", "printstation")
	if sum(t, db) != dbSum {
		t.Fatal("purge changed or removed station.db: the ledger must outlive the package")
	}
	for _, gone := range []string{"usr/bin/printstationd", "usr/bin/printstationctl", "etc/printstation/station.toml", "usr/lib/systemd/system/printstationd.service", "etc/systemd/system/multi-user.target.wants/printstationd.service"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("/%s is still there after purge", gone)
		}
	}
	if g := string(must(os.ReadFile(filepath.Join(root, "etc/group")))); !strings.Contains(g, "printstation:") {
		t.Error("purge removed the printstation group, which still owns station.db")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
