package previewcmd_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"printstation/card"
	"printstation/card/previewcmd"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = previewcmd.Main(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "demo.json")
	if err := os.WriteFile(good, card.DemoTemplateJSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run("check", "-template", good)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"ektp-demo-v1: OK", card.Hash(card.DemoTemplateJSON()), "nik", "tanggal_terbit"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}

	bad := filepath.Join(dir, "bad.json")
	b := bytes.Replace(card.DemoTemplateJSON(), []byte(`"font": "gomono"`), []byte(`"font": "comic"`), 1)
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run("check", "-template", bad)
	if code != 1 || !strings.Contains(errOut, `element "nik"`) || !strings.Contains(errOut, `"comic"`) {
		t.Errorf("bad template: exit %d, %q; want 1 and the element named", code, errOut)
	}
}

func TestRender(t *testing.T) {
	out := filepath.Join(t.TempDir(), "card.png")
	code, stdout, errOut := run("render", "-out", out, "-layers")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, p := range []string{out, strings.TrimSuffix(out, ".png") + "-color.png", strings.TrimSuffix(out, ".png") + "-k.png"} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatalf("%v (stdout %q)", err, stdout)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != 1016 || cfg.Height != 648 {
			t.Errorf("%s: %v, %d × %d, want a 1016 × 648 PNG", p, err, cfg.Width, cfg.Height)
		}
	}
}

func TestRenderMissingField(t *testing.T) {
	dir := t.TempDir()
	fields := filepath.Join(dir, "fields.json")
	if err := os.WriteFile(fields, []byte(`{"nik": "3201234567890001"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run("render", "-fields", fields, "-out", filepath.Join(dir, "x.png"))
	if code != 1 || !strings.Contains(errOut, "field \"") {
		t.Errorf("exit %d, %q; want 1 naming the missing field", code, errOut)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"render"}, {"check"}, {"render", "-out", "x.png", "extra"}} {
		if code, _, errOut := run(args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and the usage", args, code, errOut)
		}
	}
	if code, _, _ := run("--help"); code != 0 {
		t.Errorf("--help exit %d, want 0", code)
	}
}
