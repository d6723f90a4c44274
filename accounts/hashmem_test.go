package accounts

import (
	"context"
	"runtime"
	"testing"

	"printstation/inventory"
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

// TestOpenHashesNothing: opening the store computes no argon2 hash (the
// decoy a name no account has is checked against needs none; one at every
// start was tens of milliseconds of the time to READY). The sign-in
// parity test checks that such a name still costs one hash.
func TestOpenHashesNothing(t *testing.T) {
	orig := idKey
	t.Cleanup(func() { idKey = orig })
	n := 0
	idKey = func(pw, salt []byte, time, mem uint32, threads uint8, keyLen uint32) []byte {
		n++
		return orig(pw, salt, time, mem, threads, keyLen)
	}
	f := newStore(t)
	if n != 0 {
		t.Errorf("Open computed %d argon2 hashes; want none", n)
	}
	if _, err := f.s.SignIn(context.Background(), "nobody", []byte("123456"), inventory.ViaWeb); err == nil {
		t.Error("a name no account has was signed in")
	}
	if n != 1 {
		t.Errorf("a sign-in for a name no account has computed %d hashes; want one", n)
	}
}
