package vicc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// RunTests is the TestMain body of a test package that uses the PC/SC test
// bed: it takes the bed exclusively (other packages' cards must not show up
// in this one's readers), brings up pcscd if it is not running, and runs
// the tests. Without pcscd installed the package skips, except in CI, where
// the test bed is a requirement. started says whether this call started
// pcscd (tests that restart pcscd only do so then, or in CI).
func RunTests(m interface{ Run() int }, what string, started *bool) int {
	// Long enough for an end-to-end suite holding the test bed to finish.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	release, err := LockTestbed(ctx)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer release()
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	s, err := EnsurePcscd(pctx)
	if started != nil {
		*started = s
	}
	if errors.Is(err, ErrNoPcscd) && os.Getenv("CI") == "" {
		fmt.Printf("skipping %s tests: %v\n", what, err)
		return 0
	}
	if err != nil {
		fmt.Printf("%s tests: %v\n", what, err)
		return 1
	}
	return m.Run()
}
