// Package failpoint names the points of the station's card machine where a
// test can stop the daemon, in the manner of etcd's gofail: a crash test
// kills the daemon, or cuts a printer's link, exactly there, and then checks
// that every blank the printer took is in the ledger.
//
// The points do something only in binaries built with the "failpoints" build
// tag and started with PRINTSTATION_FAILPOINTS set; production binaries are
// built without the tag and carry no failpoint code (Hit is an empty
// function the compiler removes).
//
// PRINTSTATION_FAILPOINTS is a list of NAME=ACTION separated by ";":
//
//	kill        the process kills itself with SIGKILL at the point
//	hold:DIR    the process creates DIR/NAME.hit and waits until DIR/NAME.go
//	            exists (at most two minutes), so a test can act meanwhile
//	            (for example kill the printer simulator)
//
// An action may end in @N to fire at the Nth pass of the point only
// (default: the first). Each point fires at most once per process.
package failpoint

// EnvVar is the environment variable that enables failpoints in a test build.
const EnvVar = "PRINTSTATION_FAILPOINTS"

// The named points, in the order a card passes them.
const (
	AfterIntent     = "after-intent"      // the intent record is durable; no blank moved yet
	AfterFeed       = "after-feed"        // a blank left the feeder
	AtEncoder       = "at-encoder"        // the card is at the encoder, the chip not yet written
	AfterChipVerify = "after-chip-verify" // the chip is written and read back
	AfterPrint      = "after-print"       // the face is printed; the card is inside
	AfterEject      = "after-eject"       // the card is in the output hopper; the ledger does not know yet
	// The card hands over to the next one (station/chain.go): its
	// consumed event and the next blank's intent in one transaction.
	BeforeChainCommit = "before-chain-commit" // the card is out, the next job claimed and checked; nothing of the pair committed
	AfterChainCommit  = "after-chain-commit"  // the card is counted and the next blank's intent is durable; that blank has not moved
	// The card is recorded alone (no next card to hand over to: the
	// batch's last card, or a check before the next blank said no).
	BeforeCommit = "before-commit" // the consumed event is about to be committed
	AfterCommit  = "after-commit"  // the consumed event is committed
)

// All lists the points in card order: a batch's first card passes
// AfterIntent … AfterEject, BeforeChainCommit and AfterChainCommit (its
// outcome with the second card's intent); its last card passes AfterFeed …
// AfterEject, BeforeCommit and AfterCommit.
var All = []string{AfterIntent, AfterFeed, AtEncoder, AfterChipVerify, AfterPrint, AfterEject, BeforeChainCommit, AfterChainCommit, BeforeCommit, AfterCommit}
