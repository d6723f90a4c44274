package ctlcmd

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestHelpForEveryCommand: every subcommand answers --help on stdout with
// exit 0, its flags come from its own flag set, and every command the
// overview lists is known to --help, the man page and the completion.
func TestHelpForEveryCommand(t *testing.T) {
	for _, cmd := range commands {
		args := append(strings.Fields(cmd.words), "--help")
		var out, errs bytes.Buffer
		if code := Main(context.Background(), args, &out, &errs); code != 0 {
			t.Errorf("%s: exit %d\n%s", strings.Join(args, " "), code, errs.String())
			continue
		}
		if !strings.HasPrefix(out.String(), "usage: printstationctl "+cmd.words) {
			t.Errorf("%s: help does not start with its usage:\n%s", strings.Join(args, " "), out.String())
		}
	}
	var out bytes.Buffer
	Main(context.Background(), []string{"stock", "receive", "--help"}, &out, &out)
	for _, f := range []string{"-quantity", "-ref", "-serial-first"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("stock receive --help lacks %s (its flag set's help):\n%s", f, out.String())
		}
	}
	// Every command line of the overview is in the table.
	line := regexp.MustCompile(`(?m)^  ([a-z][a-z-]*(?: [a-z][a-z|-]*)?)`)
	for _, m := range line.FindAllStringSubmatch(usage[:strings.Index(usage, "global flags:")], -1) {
		words := strings.Fields(m[1])
		first := words[0]
		subs := []string{""}
		if len(words) > 1 {
			subs = strings.Split(words[1], "|")
		}
		for _, sub := range subs {
			name := strings.TrimSpace(first + " " + sub)
			if _, ok := lookup(strings.Fields(name)); !ok {
				t.Errorf("the overview lists %q but --help, the man page and the completion do not know it: add it to commands in help.go", name)
			}
		}
	}
}

func TestManPageAndCompletion(t *testing.T) {
	var man bytes.Buffer
	if code := Main(context.Background(), []string{"help", "--man"}, &man, &man); code != 0 {
		t.Fatalf("help --man: exit %d", code)
	}
	for _, want := range []string{".TH PRINTSTATIONCTL 1", ".SH EXIT STATUS", `stock receive`, `\-quantity`} {
		if !strings.Contains(man.String(), want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	if groff, err := exec.LookPath("groff"); err == nil {
		cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = &man
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff warns about the man page: %v\n%s", err, out)
		}
	}
	var comp bytes.Buffer
	Main(context.Background(), []string{"completion", "bash"}, &comp, &comp)
	if !strings.Contains(comp.String(), `"stock receive") COMPREPLY=($(compgen -W "`) || !strings.Contains(comp.String(), "--quantity") {
		t.Errorf("completion lacks stock receive's flags:\n%s", comp.String())
	}
	if out, err := exec.Command("bash", "-n", "-c", comp.String()).CombinedOutput(); err != nil {
		t.Errorf("completion is not valid bash: %v\n%s", err, out)
	}
}
