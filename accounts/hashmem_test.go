package accounts

import (
	"runtime"
	"testing"
)

// TestHashGivesItsMemoryBack: after a hash, the 19 MiB block argon2id
// took is neither held in the heap nor kept by the runtime as idle memory
// the system still counts as the daemon's (it was, for minutes, after
// every sign-in and after the hash at start: item 5's RSS).
func TestHashGivesItsMemoryBack(t *testing.T) {
	if _, err := hashSecret([]byte("a-secret-18"), DefaultParams); err != nil {
		t.Fatal(err)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	block := uint64(DefaultParams.Memory) * 1024
	if m.HeapInuse >= block {
		t.Errorf("heap in use after a hash %d KiB: the %d KiB block is still there", m.HeapInuse>>10, block>>10)
	}
	if kept := m.HeapIdle - m.HeapReleased; kept >= block/2 {
		t.Errorf("after a hash the runtime keeps %d KiB of idle heap from the system (block %d KiB)", kept>>10, block>>10)
	}
}
