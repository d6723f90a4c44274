package config

import (
	"fmt"
	"reflect"
)

// Changes is what a SIGHUP reload found between the running config and the
// file on disk.
type Changes struct {
	Applied     []string // fields that take effect at once
	NeedRestart []string // fields that change only with a restart
	NewConfig   *Config  // running config with the applied fields taken over
}

// Diff compares the running config with a newly read one. Only fields that
// cannot disturb a card in flight are applied live (logging, prefetch
// window, retention, attempt bound, low-stock threshold); identity, storage,
// keys, addresses and printers need a restart, because changing them under a
// running batch could strand a card between two configurations.
func Diff(old, nu *Config) Changes {
	out := *old
	var ch Changes
	live := func(name string, o, n any, apply func()) {
		if !reflect.DeepEqual(o, n) {
			ch.Applied = append(ch.Applied, fmt.Sprintf("%s: %v → %v", name, o, n))
			apply()
		}
	}
	live("log.level", old.Log.Level, nu.Log.Level, func() { out.Log.Level = nu.Log.Level })
	live("queue.prefetch_jobs", old.Queue.PrefetchJobs, nu.Queue.PrefetchJobs, func() { out.Queue.PrefetchJobs = nu.Queue.PrefetchJobs })
	live("queue.prefetch_mb", old.Queue.PrefetchMB, nu.Queue.PrefetchMB, func() { out.Queue.PrefetchMB = nu.Queue.PrefetchMB })
	live("queue.retention_hours", old.Queue.RetentionHours, nu.Queue.RetentionHours, func() { out.Queue.RetentionHours = nu.Queue.RetentionHours })
	live("engine.max_attempts", old.Engine.MaxAttempts, nu.Engine.MaxAttempts, func() { out.Engine.MaxAttempts = nu.Engine.MaxAttempts })
	live("engine.breaker_failures", old.Engine.BreakerFailures, nu.Engine.BreakerFailures, func() { out.Engine.BreakerFailures = nu.Engine.BreakerFailures })
	live("engine.clean_warn_cards", old.Engine.CleanWarnCards, nu.Engine.CleanWarnCards, func() { out.Engine.CleanWarnCards = nu.Engine.CleanWarnCards })
	live("engine.clean_stop_cards", old.Engine.CleanStopCards, nu.Engine.CleanStopCards, func() { out.Engine.CleanStopCards = nu.Engine.CleanStopCards })
	live("engine.low_stock", old.Engine.LowStock, nu.Engine.LowStock, func() { out.Engine.LowStock = nu.Engine.LowStock })
	live("central.poll_seconds", old.Central.PollSeconds, nu.Central.PollSeconds, func() { out.Central.PollSeconds = nu.Central.PollSeconds })

	fixed := []struct {
		name string
		o, n any
	}{
		{"station_id", old.StationID, nu.StationID},
		{"storage_dir", old.StorageDir, nu.StorageDir},
		{"runtime_dir", old.RuntimeDir, nu.RuntimeDir},
		{"central.url", old.Central.URL, nu.Central.URL},
		{"central.client_cert", old.Central.ClientCert, nu.Central.ClientCert},
		{"central.client_key", old.Central.ClientKey, nu.Central.ClientKey},
		{"central.ca_file", old.Central.CAFile, nu.Central.CAFile},
		{"central.issuer_key", old.Central.IssuerKeys, nu.Central.IssuerKeys},
		{"central.witness_key", old.Central.WitnessKey, nu.Central.WitnessKey},
		{"web.listen", old.Web.Listen, nu.Web.Listen},
		{"metrics.listen", old.Metrics.Listen, nu.Metrics.Listen},
		{"log.format", old.Log.Format, nu.Log.Format},
		{"keys", old.Keys, nu.Keys},
		{"engine.checkpoint_every", old.Engine.CheckpointEvery, nu.Engine.CheckpointEvery},
		{"engine.shutdown_grace_seconds", old.Engine.ShutdownGraceSeconds, nu.Engine.ShutdownGraceSeconds},
		{"engine.chip_timeout_seconds", old.Engine.ChipTimeoutSeconds, nu.Engine.ChipTimeoutSeconds},
		{"engine.confirm_reader", old.Engine.ConfirmReader, nu.Engine.ConfirmReader},
		{"engine.desk_wait_seconds", old.Engine.DeskWaitSeconds, nu.Engine.DeskWaitSeconds},
		{"printer", old.Printers, nu.Printers},
	}
	for _, f := range fixed {
		if !reflect.DeepEqual(f.o, f.n) {
			ch.NeedRestart = append(ch.NeedRestart, f.name)
		}
	}
	ch.NewConfig = &out
	return ch
}
