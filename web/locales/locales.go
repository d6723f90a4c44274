// Package locales is the page's message catalogs (one TOML file per
// language and group of screens) as a package of their own, so that
// printstationctl prints the same words as the page — the printer guidance
// table's (station/guide) — without linking the page or the engine.
// printstation/web embeds these same files for the page.
package locales

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

//go:embed *.toml
var files embed.FS

var (
	once     sync.Once
	catalogs map[string]map[string]string // language → id → text ("other" form for a plural)
	loadErr  error
)

func load() {
	catalogs = map[string]map[string]string{}
	names, err := fs.Glob(files, "*.toml")
	if err != nil {
		loadErr = err
		return
	}
	for _, n := range names {
		parts := strings.Split(n, ".")
		if len(parts) != 3 {
			continue
		}
		lang := parts[1]
		b, err := files.ReadFile(n)
		if err != nil {
			loadErr = err
			return
		}
		var m map[string]any
		if err := toml.Unmarshal(b, &m); err != nil {
			loadErr = fmt.Errorf("message catalog %s: %w", n, err)
			return
		}
		if catalogs[lang] == nil {
			catalogs[lang] = map[string]string{}
		}
		for id, v := range m {
			switch v := v.(type) {
			case string:
				catalogs[lang][id] = v
			case map[string]any:
				if s, ok := v["other"].(string); ok {
					catalogs[lang][id] = s
				}
			}
		}
	}
}

// Text is message id's text in lang ("id" or "en"), as the catalog has it
// (placeholders such as {{.Name}} are left in). ok is false when the
// language or the id is unknown.
func Text(lang, id string) (string, bool) {
	once.Do(load)
	if loadErr != nil {
		return "", false
	}
	s, ok := catalogs[lang][id]
	return s, ok
}
