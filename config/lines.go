package config

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/BurntSushi/toml"
)

// lineIndex maps keys to the line they are defined on. The TOML library
// does not expose positions of decoded keys, and every message must name a
// line, so a light scan of the file finds them: table headers, array-of-table
// headers (counted, so printer #2's keys are told from printer #1's) and
// "key =" lines.
type lineIndex struct {
	keys map[string]int // "central.url", "printer.1.name", "printer.1" → line
}

func indexLines(data []byte) lineIndex {
	idx := lineIndex{keys: map[string]int{}}
	counts := map[string]int{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[["):
			name := strings.TrimSpace(strings.Trim(cutComment(line), "[] \t"))
			table = name + "." + itoa(counts[name])
			counts[name]++
			idx.set(table, n)
			idx.set(name, n)
		case strings.HasPrefix(line, "["):
			table = strings.TrimSpace(strings.Trim(cutComment(line), "[] \t"))
			idx.set(table, n)
		default:
			k, _, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			k = strings.Trim(strings.TrimSpace(k), `"'`)
			if table != "" {
				k = table + "." + k
			}
			idx.set(k, n)
		}
	}
	return idx
}

func (x lineIndex) set(k string, n int) {
	if _, ok := x.keys[k]; !ok {
		x.keys[k] = n
	}
}

// at gives the line of a key path like "printer.1.name"; it falls back to
// the enclosing table so a missing key points at its table's header.
func (x lineIndex) at(path string) int {
	for p := path; p != ""; {
		if n, ok := x.keys[p]; ok {
			return n
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// line finds an undecoded key. The library's keys for arrays of tables carry
// no index, so try each occurrence in order.
func (x lineIndex) line(k toml.Key) int {
	if len(k) >= 2 {
		for i := 0; i < 1000; i++ {
			p := k[0] + "." + itoa(i) + "." + strings.Join(k[1:], ".")
			if n, ok := x.keys[p]; ok {
				return n
			} else if _, tbl := x.keys[k[0]+"."+itoa(i)]; !tbl {
				break
			}
		}
	}
	return x.at(k.String())
}

func cutComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

var knownKeys = map[string][]string{
	"":                   {"station_id", "storage_dir", "runtime_dir", "[central]", "[web]", "[metrics]", "[log]", "[queue]", "[keys]", "[engine]", "[[printer]]"},
	"central":            {"url", "client_cert", "client_key", "ca_file", "witness_key", "poll_seconds", "max_answer_mb", "[[central.issuer_key]]"},
	"web":                {"listen"},
	"metrics":            {"listen"},
	"log":                {"level", "format"},
	"queue":              {"prefetch_jobs", "prefetch_mb", "retention_hours"},
	"keys":               {"data_key", "signing_key"},
	"engine":             {"max_attempts", "checkpoint_every", "shutdown_grace_seconds", "low_stock", "chip_timeout_seconds", "max_stock", "checkpoint_minutes"},
	"printer":            {"name", "driver", "transport", "vendor_id", "product_id", "serial", "address", "encoder_reader", "feeder_capacity", "ribbon"},
	"central.issuer_key": {"id", "file"},
}

func knownKeysHint(k toml.Key) string {
	parent := ""
	if len(k) > 1 {
		parent = strings.Join(k[:len(k)-1], ".")
	}
	if known, ok := knownKeys[parent]; ok {
		where := "at the top level"
		if parent != "" {
			where = "in [" + parent + "]"
		}
		return "expected one of " + strings.Join(known, ", ") + " " + where
	}
	return "remove it or check its spelling"
}
