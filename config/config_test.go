package config

import (
	"os"
	"path/filepath"
	"printstation/internal/golden"
	"strings"
	"testing"
)

// Each bad file's full message list is a golden file: the exact text a
// technician sees, with its lines.
func TestBadFilesGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.toml")
	if len(files) == 0 {
		t.Fatal("no bad fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f)
			if err == nil {
				t.Fatalf("%s loaded without error", f)
			}
			got := err.Error() + "\n"
			golden.Check(t, strings.TrimSuffix(f, ".toml")+".golden", []byte(got))
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(line, f+":") {
					t.Errorf("message does not start with the file name: %q", line)
				}
			}
		})
	}
}

func TestGoodFiles(t *testing.T) {
	c, err := Load("testdata/good/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Printers) != 2 || c.Printers[0].Addr() != "usb:0f49:1001:PRI0123456" || c.Printers[1].Addr() != "tcp://127.0.0.1:9100" {
		t.Fatalf("printers = %+v", c.Printers)
	}
	if c.Printers[0].Driver != "evolis" || c.Printers[0].FeederCapacity != 100 || c.Printers[1].FeederCapacity != 200 {
		t.Fatalf("printer defaults not applied: %+v", c.Printers)
	}
	if c.Queue.PrefetchJobs != 400 || c.Log.Level != "debug" || c.Engine.MaxAttempts != 2 || c.Engine.CheckpointEvery != 100 {
		t.Fatalf("values/defaults wrong: %+v", c)
	}
	if !filepath.IsAbs(c.Central.IssuerKeys[0].File) && !strings.HasPrefix(c.Central.IssuerKeys[0].File, "testdata") {
		t.Fatalf("issuer key path not resolved against the config's folder: %s", c.Central.IssuerKeys[0].File)
	}
	if k, err := ReadIssuerKey(c.Central.IssuerKeys[0].File); err != nil || len(k) != 32 {
		t.Fatalf("issuer key: %v", err)
	}
	q, err := Load("testdata/good/ipp.toml")
	if err != nil {
		t.Fatal(err)
	}
	if p := q.Printers[0]; p.Driver != "ipp" || p.Encoder != "desk" || p.Addr() != "ipp://localhost:631/printers/HDP5000" {
		t.Fatalf("ipp printer %+v", p)
	}
	if c.Printers[0].Encoder != "inline" {
		t.Fatalf("encoder default %q, want inline", c.Printers[0].Encoder)
	}
	m, err := Load("testdata/good/minimal.toml")
	if err != nil {
		t.Fatal(err)
	}
	if m.Web.Listen != "127.0.0.1:8080" {
		t.Fatalf("web listens on %q by default, want loopback only", m.Web.Listen)
	}
	if !strings.Contains(m.Summary(), "ST-1") {
		t.Fatalf("summary %q", m.Summary())
	}
}

func TestKeyFileModeChecked(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "data.key")
	os.WriteFile(key, make([]byte, 32), 0o640)
	cfgFile := filepath.Join(dir, "s.toml")
	os.WriteFile(filepath.Join(dir, "k.pub"), []byte("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n"), 0o644)
	os.WriteFile(cfgFile, []byte("station_id = \"S\"\n[keys]\ndata_key = \"data.key\"\n[[central.issuer_key]]\nid = \"k\"\nfile = \"k.pub\"\n"), 0o644)
	_, err := Load(cfgFile)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), ":3:") {
		t.Fatalf("group-readable key accepted or unclear: %v", err)
	}
	os.Chmod(key, 0o600)
	if _, err := Load(cfgFile); err != nil {
		t.Fatalf("0600 key refused: %v", err)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load("testdata/nope.toml")
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("missing file error does not say what to do: %v", err)
	}
}

func TestDiffAppliesOnlySafeFields(t *testing.T) {
	old, _ := Load("testdata/good/full.toml")
	nu := *old
	nu.Log.Level = "warn"
	nu.Queue.PrefetchJobs = 10
	nu.StationID = "OTHER"
	nu.Printers = append([]Printer(nil), old.Printers...)
	nu.Printers[1].Address = "127.0.0.1:9200"
	ch := Diff(old, &nu)
	if len(ch.Applied) != 2 || ch.NewConfig.Log.Level != "warn" || ch.NewConfig.Queue.PrefetchJobs != 10 {
		t.Fatalf("applied = %v", ch.Applied)
	}
	if ch.NewConfig.StationID != "ST-3201-01" || ch.NewConfig.Printers[1].Address != "127.0.0.1:9100" {
		t.Fatal("a restart-only field was applied live")
	}
	if strings.Join(ch.NeedRestart, ",") != "station_id,printer" {
		t.Fatalf("need restart = %v", ch.NeedRestart)
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range []string{"testdata/good/full.toml", "testdata/bad/semantic.toml", "testdata/bad/unknown-keys.toml"} {
		b, _ := os.ReadFile(g)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
	})
}

// A config path that is a device or a huge file is refused after a bounded
// read, with a message that says what is wrong.
func TestFileSizeBounded(t *testing.T) {
	_, err := Load("/dev/zero")
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("/dev/zero: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.toml")
	data, _ := os.ReadFile("testdata/good/minimal.toml")
	data = append(data, []byte("\n# "+strings.Repeat("x", MaxFileBytes)+"\n")...)
	os.WriteFile(big, data, 0o644)
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("2 MB file: %v", err)
	}
}

func TestBoundsOfStockAndAnswers(t *testing.T) {
	data, _ := os.ReadFile("testdata/good/minimal.toml")
	for _, c := range []struct{ extra, want string }{
		{"\n[engine]\nmax_stock = 0\n", "engine.max_stock = 0: expected 1 to 10000000"},
		{"\n[engine]\nmax_stock = 100\nlow_stock = 200\n", "is above engine.max_stock"},
		{"\n[central]\nmax_answer_mb = 1024\n", "central.max_answer_mb = 1024: expected 1 to 256"},
	} {
		_, err := Parse("testdata/good/x.toml", append(append([]byte{}, data...), c.extra...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.extra, err, c.want)
		}
	}
}
