package station

// Codes say what a person has to do, for the web page to translate; the
// English Message/Reason texts stay for the CLI and the journal. A code is
// stable: the page's message catalogs (web/locales) key on it, and a new
// code needs an entry in both languages there (the catalog test fails
// otherwise).

// Printer codes (PrinterState.Code).
const (
	PrinterJam              = "jam"
	PrinterFeederEmpty      = "feeder_empty"
	PrinterRibbonOut        = "ribbon_out"
	PrinterRibbonMismatch   = "ribbon_mismatch"
	PrinterCoverOpen        = "cover_open"
	PrinterRejectFull       = "reject_full"
	PrinterOutputFull       = "output_full"
	PrinterNeedsCleaning    = "needs_cleaning"
	PrinterBusy             = "busy"
	PrinterHead             = "head_fault"
	PrinterFault            = "printer_fault" // refused command, bad reply, anything else
	PrinterNotAnswering     = "not_answering"
	PrinterCardInside       = "card_inside"
	PrinterNotReady         = "not_ready"
	PrinterEncoderDown      = "encoder_unreachable"
	PrinterNoBlanks         = "no_blanks_loaded"
	PrinterRecordFailed     = "record_failed"
	PrinterUncertainRestart = "uncertain_after_restart"
	PrinterStopping         = "stopping"
	PrinterQueueStopped     = "queue_stopped"   // a CUPS/IPP queue stopped or paused
	PrinterJobCancelled     = "job_cancelled"   // a print job cancelled outside the station
	PrinterDeskSetup        = "desk_setup"      // the desk reader or print queue is not usable
	PrinterDeskCounted      = "desk_counted"    // cards placed on the desk reader were already counted
	PrinterDeskWaited       = "desk_waited"     // nobody placed a blank on the desk reader
	PrinterDeskCardLeft     = "desk_card_left"  // a written card stayed on the desk reader: spoiled
	PrinterDeskNotTapped    = "desk_not_tapped" // the printed card was not tapped back
	PrinterRibbonConfig     = "ribbon_config"   // the configured ribbon has no panel layout
	PrinterCleaningDue      = "cleaning_due"    // the cleaning policy: clean_stop_cards fed since the last cleaning
)

// PrinterCodes lists every printer code (the catalog test checks each has
// a message).
var PrinterCodes = []string{PrinterJam, PrinterFeederEmpty, PrinterRibbonOut, PrinterRibbonMismatch, PrinterCoverOpen,
	PrinterRejectFull, PrinterOutputFull, PrinterNeedsCleaning, PrinterBusy, PrinterHead, PrinterFault, PrinterNotAnswering,
	PrinterCardInside, PrinterNotReady, PrinterEncoderDown, PrinterNoBlanks, PrinterRecordFailed, PrinterUncertainRestart, PrinterStopping,
	PrinterQueueStopped, PrinterJobCancelled, PrinterDeskSetup, PrinterDeskCounted, PrinterDeskWaited, PrinterDeskCardLeft, PrinterDeskNotTapped, PrinterRibbonConfig, PrinterCleaningDue}

// Attention codes (Attention.Code, stored as the job's code).
const (
	// The card was finished but stopped at the exit: take it out, look at
	// it, hold it to the encoder and confirm, or spoil it.
	WaitStuckAtExit = "stuck_at_exit"
	// A blank was fed before a restart: find the card, then confirm or spoil.
	WaitFedBeforeRestart = "fed_before_restart"
	// Whether a blank was fed is unknown (the printer did not answer at
	// start, or left the config).
	WaitFeedUnknown = "feed_unknown"
	// Too many blanks spoiled for one job.
	WaitAttemptsExhausted = "attempts_exhausted"
	// The card could not be prepared (template, data).
	WaitPrepareFailed = "prepare_failed"
	// The job needs a chip encoder the printer lacks.
	WaitNoEncoder = "no_encoder"
	// The desk flow cannot run (reader or print queue not usable).
	WaitDeskSetup = "desk_setup"
	// The printed card was not tapped back on the desk reader: find it,
	// tap it and confirm, or spoil it.
	WaitDeskNotTapped = "desk_not_tapped"
)

// AttentionCodes lists every attention code.
var AttentionCodes = []string{WaitStuckAtExit, WaitFedBeforeRestart, WaitFeedUnknown, WaitAttemptsExhausted, WaitPrepareFailed, WaitNoEncoder,
	WaitDeskSetup, WaitDeskNotTapped}
