// Package previewcmd is the "card" command of printstationctl: it checks a
// card template and renders a preview PNG, so that a template author sees
// the card before any blank is spent.
package previewcmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"printstation/card"
	"printstation/card/sample"
)

const usage = `usage: printstationctl card <check|render> [flags]

  check  -template FILE
         Validate a card template; print its id, SHA-256 and the job fields it needs.
  render [-template FILE] [-fields FILE] [-photo FILE] [-signature FILE] -out FILE.png [-layers]
         Render a card. Without -template the built-in e-KTP demo is used; without
         -fields, -photo, -signature made-up sample data is used. -layers also writes
         FILE-color.png and FILE-k.png (the K resin panel).
`

// Main runs the command; it returns the process exit code (0 ok, 1 failed,
// 2 bad usage).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "check":
		err = check(args[1:], stdout, stderr)
	case "render":
		err = render(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "card: unknown subcommand %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "card: %v\n\n%s", err, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "card: %v\n", err)
		return 1
	}
	return 0
}

type usageError struct{ error }

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("card "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func check(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	tplPath := fs.String("template", "", "template JSON file")
	asJSON := fs.Bool("json", false, "print the result as one JSON document")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tplPath == "" {
		return usageError{errors.New("-template is required")}
	}
	tpl, err := loadTemplate(*tplPath)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"template": tpl.ID(), "sha256": tpl.Hash(), "fields": tpl.RequiredFields(),
			"optional": optionalOnly(tpl), "k_panel": tpl.UsesBlack()})
	}
	fmt.Fprintf(stdout, "template %s: OK\nsha256   %s\nfields   %s\nK panel  %v\n",
		tpl.ID(), tpl.Hash(), strings.Join(tpl.RequiredFields(), " "), tpl.UsesBlack())
	if opt := optionalOnly(tpl); len(opt) > 0 {
		fmt.Fprintf(stdout, "optional %s\n", strings.Join(opt, " "))
	}
	return nil
}

func optionalOnly(tpl *card.Template) []string {
	req := map[string]bool{}
	for _, f := range tpl.RequiredFields() {
		req[f] = true
	}
	var out []string
	for _, f := range tpl.Fields() {
		if !req[f] {
			out = append(out, f)
		}
	}
	return out
}

func loadTemplate(path string) (*card.Template, error) {
	if path == "" {
		return card.DemoTemplate(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the template: %w", err)
	}
	tpl, err := card.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tpl, nil
}

func render(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("render", stderr)
	tplPath := fs.String("template", "", "template JSON file (default: the built-in e-KTP demo)")
	fieldsPath := fs.String("fields", "", `JSON object of job fields, {"nik": "...", ...} (default: sample data)`)
	photoPath := fs.String("photo", "", "PNG, JPEG or WebP photo (default: a generated sample)")
	sigPath := fs.String("signature", "", "PNG signature (default: a generated sample)")
	out := fs.String("out", "", "PNG file to write: the card as printed")
	layers := fs.Bool("layers", false, "also write the colour and K panels as separate PNGs")
	asJSON := fs.Bool("json", false, "list the files written as one JSON document")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("-out is required")}
	}
	tpl, err := loadTemplate(*tplPath)
	if err != nil {
		return err
	}
	fields := sample.Fields()
	if *fieldsPath != "" {
		b, err := os.ReadFile(*fieldsPath)
		if err != nil {
			return fmt.Errorf("reading the fields: %w", err)
		}
		fields = map[string]string{}
		if err := json.Unmarshal(b, &fields); err != nil {
			return fmt.Errorf("%s: want a JSON object of strings: %w", *fieldsPath, err)
		}
	}
	photo, sig := sample.Photo(1), sample.Signature(1)
	if *photoPath != "" {
		if photo, err = os.ReadFile(*photoPath); err != nil {
			return fmt.Errorf("reading the photo: %w", err)
		}
	}
	if *sigPath != "" {
		if sig, err = os.ReadFile(*sigPath); err != nil {
			return fmt.Errorf("reading the signature: %w", err)
		}
	}
	col, blk, err := card.Render(tpl, fields, photo, sig)
	if err != nil {
		return err
	}
	if err := writePNG(*out, card.Composite(col, blk)); err != nil {
		return err
	}
	wrote := []string{*out}
	if *layers {
		base := strings.TrimSuffix(*out, filepath.Ext(*out))
		if err := writePNG(base+"-color.png", col); err != nil {
			return err
		}
		wrote = append(wrote, base+"-color.png")
		if blk != nil {
			if err := writePNG(base+"-k.png", blk); err != nil {
				return err
			}
			wrote = append(wrote, base+"-k.png")
		}
	}
	if *asJSON {
		return writeJSON(stdout, map[string]any{"wrote": wrote})
	}
	for _, f := range wrote {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	return nil
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the preview: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
