package diagcmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"printstation/printer/diagcmd"
	"printstation/printer/raster"
	simprinter "printstation/sim/printer"
)

// startSim runs the simulator on a loopback TCP port.
func startSim(t *testing.T, cfg simprinter.Config) (*simprinter.Sim, string) {
	t.Helper()
	sim, err := simprinter.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sim.Serve(l)
	t.Cleanup(func() { sim.Close() })
	return sim, "tcp://" + l.Addr().String()
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := diagcmd.Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestReadCommands(t *testing.T) {
	_, addr := startSim(t, simprinter.Config{Serial: "EVL-42", Feeder: 7})
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{"info", []string{"serial number", "EVL-42", "firmware", "SIM-1.0"}},
		{"status", []string{"READY", "card in printer", "none", "cover open", "no"}},
		{"counters", []string{"cards inserted", "0", "prints left on ribbon (estimate)", "250"}},
		{"sensors", []string{"cover (o)", "5.00", "closed", "input feeder (f)", "cards present"}},
	} {
		code, out, errs := run(t, "--printer", addr, tc.cmd)
		if code != 0 {
			t.Errorf("%s: exit %d, %s", tc.cmd, code, errs)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s output lacks %q:\n%s", tc.cmd, w, out)
			}
		}
	}
	code, out, _ := run(t, "--printer", addr, "--json", "counters")
	var c struct {
		CardsInserted int64 `json:"cards_inserted"`
		RibbonLeft    int64 `json:"ribbon_left"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || c.RibbonLeft != 250 {
		t.Errorf("--json counters: %d %q", code, out)
	}
}

func TestMaintenance(t *testing.T) {
	sim, addr := startSim(t, simprinter.Config{Feeder: 2})
	// The cleaning cycle runs without a ribbon (guide Scp): with one in,
	// the printer says so and nothing is cleaned.
	if code, _, errs := run(t, "--printer", addr, "clean"); code != 1 || !strings.Contains(errs, "RIBBON PRESENT") {
		t.Errorf("clean with the ribbon in: exit %d %q", code, errs)
	}
	sim.OpenCover()
	sim.RemoveRibbon()
	sim.CloseCover()
	if code, out, errs := run(t, "--printer", addr, "clean"); code != 0 || !strings.Contains(out, "done") {
		t.Errorf("clean: exit %d %q %q", code, out, errs)
	}
	sim.OpenCover()
	sim.InstallRibbon()
	sim.CloseCover()
	for _, cmd := range []string{"test-card", "self-adjust", "reset"} {
		if code, out, errs := run(t, "--printer", addr, cmd); code != 0 || !strings.Contains(out, "done") {
			t.Errorf("%s: exit %d %q %q", cmd, code, out, errs)
		}
	}
	sn := sim.Snapshot()
	if sn.Cleanings != 1 || sn.CardsInserted != 1 {
		t.Errorf("after clean and test card: %+v", sn.State)
	}
}

func writePNG(t *testing.T, path string, c color.RGBA) {
	img := image.NewRGBA(image.Rect(0, 0, raster.Width, raster.Height))
	for y := 0; y < raster.Height; y++ {
		for x := 0; x < raster.Width; x++ {
			img.SetRGBA(x, y, c)
		}
	}
	f, _ := os.Create(path)
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestCalibrationPrint(t *testing.T) {
	out := t.TempDir()
	sim, addr := startSim(t, simprinter.Config{OutDir: out, Feeder: 3})
	dir := t.TempDir()
	front, back := filepath.Join(dir, "front.png"), filepath.Join(dir, "back.png")
	writePNG(t, front, color.RGBA{0x20, 0x80, 0xe0, 0xff})
	writePNG(t, back, color.RGBA{0xff, 0xff, 0xff, 0xff})
	code, stdout, errs := run(t, "--printer", addr, "print", front, back)
	if code != 0 {
		t.Fatalf("print: %d %s", code, errs)
	}
	if !strings.Contains(stdout, "printed 2 side(s)") {
		t.Errorf("output %q", stdout)
	}
	for _, f := range []string{"card-000001-front.png", "card-000001-back.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("the printer did not print %s: %v", f, err)
		}
	}
	if sn := sim.Snapshot(); sn.CardsInserted != 1 || sn.Card != 0 {
		t.Errorf("after print: %+v", sn)
	}
}

func TestErrorsSayWhatToDo(t *testing.T) {
	f, _ := simprinter.ParseFault("1:print:ribbon_end")
	sim, addr := startSim(t, simprinter.Config{Feeder: 3, Faults: []simprinter.Fault{f}})
	dir := t.TempDir()
	front := filepath.Join(dir, "front.png")
	writePNG(t, front, color.RGBA{0x20, 0x80, 0xe0, 0xff})
	code, _, errs := run(t, "--printer", addr, "print", front)
	if code != 1 || !strings.Contains(errs, "ribbon out") || !strings.Contains(errs, "replace the ribbon") || !strings.Contains(errs, "reject box") {
		t.Errorf("ribbon end: %d %q", code, errs)
	}
	if sn := sim.Snapshot(); sn.RejectCount != 1 {
		t.Errorf("the spoiled calibration card is not in the reject box: %+v", sn.State)
	}
	code, out, _ := run(t, "--printer", addr, "--json", "print", front)
	if code != 1 || !strings.Contains(out, `"kind":"ribbon out"`) {
		t.Errorf("--json error: %d %q", code, out)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"status"},
		{"--printer", "tcp://127.0.0.1:1", "dance"},
		{"--printer", "tcp://127.0.0.1:1", "print"},
		{"--printer", "tcp://127.0.0.1:1", "status", "extra"},
	} {
		if code, _, errs := run(t, args...); code != 2 || !strings.Contains(errs, "usage: diag printer") {
			t.Errorf("%q: exit %d, %q", args, code, errs)
		}
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "portrait.png")
	img := image.NewRGBA(image.Rect(0, 0, raster.Height, raster.Width))
	f, _ := os.Create(bad)
	png.Encode(f, img)
	f.Close()
	if code, _, errs := run(t, "--printer", "tcp://127.0.0.1:1", "print", bad); code != 2 || !strings.Contains(errs, "portrait") {
		t.Errorf("portrait image: %d %q", code, errs)
	}
	code, _, errs := run(t, "--printer", "tcp://127.0.0.1:1", "status")
	if code != 1 || !strings.Contains(errs, "127.0.0.1:1") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("printer not there: %d %q", code, errs)
	}
}
