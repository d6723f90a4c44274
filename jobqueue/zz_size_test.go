package jobqueue_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"printstation/sim/central"
)

func gzn(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Len()
}

func TestZZSize(t *testing.T) {
	for i := 1; i <= 3; i++ {
		p := central.JobSpec{Station: "ST-3201-01", JobID: fmt.Sprintf("J-%d", i), Batch: "B", Seed: uint64(i), Issued: time.Now(), KID: "k"}.Payload()
		chipN := 0
		var chipAll []byte
		for _, f := range p.Chip.Files {
			chipN += len(f.Data)
			chipAll = append(chipAll, f.Data...)
		}
		raw, _ := json.Marshal(p)
		jws := ""
		_ = jws
		fmt.Printf("photo %d (gz %d) sig %d (gz %d) chip %d (gz %d) json %d (gz %d) fields %d\n", len(p.Photo), gzn(p.Photo), len(p.Signature), gzn(p.Signature), chipN, gzn(chipAll), len(raw), gzn(raw), len(raw)-4*(len(p.Photo)+len(p.Signature)+chipN)/3)
	}
}
