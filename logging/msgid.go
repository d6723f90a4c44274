package logging

// Journal MESSAGE_IDs of the events an operator or a log pipeline alerts on.
// They never change once published (docs/JOURNAL.md lists them, and the
// package's journal catalog explains each one to `journalctl -x`). Log them
// with the MessageID field:
//
//	log.Warn().Str(logging.MessageID, logging.MsgCardSpoiled)...
//
// When the daemon writes to the journal the field becomes the journal's
// own MESSAGE_ID, so `journalctl MESSAGE_ID=...` finds every occurrence.
const (
	// MessageID is the log field that becomes the journal's MESSAGE_ID.
	MessageID = "message_id"

	// MsgCardSpoiled: a blank was spoiled (printer, job, reason code).
	MsgCardSpoiled = "dda85c5477144292b37549ec63b18126"
	// MsgPrinterPaused: a printer stopped and waits for a person, or is
	// offline (printer, state, what to do).
	MsgPrinterPaused = "9328d01c5b634c77838f276be1a580d9"
	// MsgLedgerVerifyFailed: a ledger check failed: the centre's cosigned
	// checkpoint does not match this station's ledger.
	MsgLedgerVerifyFailed = "5a778da64a4d439ab52a7fee9c2cc50f"
	// MsgCentreUnreachable: no exchange with the central server has worked
	// for a while; printing goes on from the local queue.
	MsgCentreUnreachable = "7823269af5424b8480c4dbdc5b9288b3"
	// MsgCentreReachable: the centre answers again after MsgCentreUnreachable.
	MsgCentreReachable = "76d4feabe2d64d588306cf8d24ab9a2d"
)
