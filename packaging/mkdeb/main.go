// Command mkdeb builds the printstation Debian package from
// packaging/nfpm.yaml with nfpm (github.com/goreleaser/nfpm/v2). It is run
// by scripts/deb.sh (make deb) after the files are staged.
//
//	mkdeb -config packaging/nfpm.yaml -stage DIR -version V -out FILE.deb
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
)

func main() {
	cfgPath := flag.String("config", "packaging/nfpm.yaml", "nfpm config")
	stage := flag.String("stage", "", "folder with the built binaries, man pages, completion")
	version := flag.String("version", "", "package version, e.g. 0.1.0-1")
	arch := flag.String("arch", runtime.GOARCH, "Debian architecture")
	out := flag.String("out", "", "the .deb to write")
	flag.Parse()
	if *stage == "" || *version == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: mkdeb -stage DIR -version V -out FILE.deb [-config packaging/nfpm.yaml]")
		os.Exit(2)
	}
	if err := build(*cfgPath, map[string]string{"STAGE": *stage, "VERSION": *version, "ARCH": *arch}, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
}

func build(cfgPath string, env map[string]string, out string) error {
	cfg, err := nfpm.ParseFileWithEnvMapping(cfgPath, func(k string) string { return env[k] })
	if err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return err
	}
	info = nfpm.WithDefaults(info)
	// Reproducible: the files' times are the build's (SOURCE_DATE_EPOCH).
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var sec int64
		if _, err := fmt.Sscan(s, &sec); err == nil {
			info.MTime = time.Unix(sec, 0).UTC()
		}
	}
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return err
	}
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	info.Target = out
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(out)
		return fmt.Errorf("building %s: %w", out, err)
	}
	return f.Close()
}
