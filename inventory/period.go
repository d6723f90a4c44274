package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"printstation/storage"
)

// PrinterPeriod is one printer's movements over a period.
type PrinterPeriod struct {
	Printer   string           `json:"printer"`
	Opening   int64            `json:"opening"`
	Loaded    int64            `json:"loaded"`
	Unloaded  int64            `json:"unloaded"`
	Consumed  int64            `json:"consumed"`
	TestCards int64            `json:"test_cards"`
	Spoiled   map[string]int64 `json:"spoiled_by_reason"`
	Adjusted  int64            `json:"adjusted"`
	Closing   int64            `json:"closing"`
	// Fed is every blank the printer took in the period: consumed, spoiled
	// in it and test cards. Its hardware counter should have moved as much.
	Fed int64 `json:"fed"`
	// CounterAtClose is the last hardware counter reading before the end
	// of the period, and FedSinceReading the blanks fed after it; nil when
	// the ledger holds no reading for this printer.
	CounterAtClose  *int64 `json:"counter_at_close,omitempty"`
	FedSinceReading int64  `json:"fed_since_reading"`
}

// StoragePeriod is the stock room's movements over a period.
type StoragePeriod struct {
	Opening  int64            `json:"opening"`
	Received int64            `json:"received"`
	Loaded   int64            `json:"loaded_into_printers"`
	Unloaded int64            `json:"unloaded_from_printers"`
	Spoiled  map[string]int64 `json:"spoiled_by_reason"`
	Adjusted int64            `json:"adjusted"`
	Closing  int64            `json:"closing"`
}

// Discrepancy is a difference between the ledger and a count or counter.
type Discrepancy struct {
	Seq      int64  `json:"seq"` // the event where it shows, -1 for the auditor's own counts
	Location string `json:"location"`
	Ledger   int64  `json:"ledger"`
	Counted  int64  `json:"counted"`
	What     string `json:"what"`
}

// Period summarises the ledger between From (inclusive) and To (exclusive).
type Period struct {
	Station         string           `json:"station"`
	From            time.Time        `json:"from"`
	To              time.Time        `json:"to"`
	Events          int64            `json:"events"`
	Storage         StoragePeriod    `json:"storage"`
	Printers        []PrinterPeriod  `json:"printers"`
	Received        int64            `json:"received"`
	Consumed        int64            `json:"consumed"`
	TestCards       int64            `json:"test_cards"`
	Spoiled         map[string]int64 `json:"spoiled_by_reason"`
	SpoiledOpening  int64            `json:"spoiled_awaiting_opening"`
	SpoiledClosing  int64            `json:"spoiled_awaiting_closing"`
	Destroyed       int64            `json:"destroyed"`
	Adjusted        int64            `json:"adjusted"`
	ShiftsClosed    int              `json:"shifts_closed"`
	CounterReadings int              `json:"counter_readings"`
	Discrepancies   []Discrepancy    `json:"discrepancies"`
	Closing         Stock            `json:"closing"`
}

// Summarize replays the ledger and summarises [from, to). It compares every
// shift close's counts and every pair of consecutive hardware counter
// readings with the ledger and lists the differences. It refuses to run on
// a ledger that does not replay (run Verify first to see where).
func Summarize(ctx context.Context, ex storage.Execer, from, to time.Time) (*Period, error) {
	p := &Period{From: from.UTC(), To: to.UTC(), Spoiled: map[string]int64{}, Discrepancies: []Discrepancy{}}
	if err := ex.QueryRowContext(ctx, `SELECT value FROM ledger_meta WHERE key = 'station'`).Scan(&p.Station); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotALedger, err)
	}
	if summarizeFromDays {
		// From the running totals at the period's ends (days.go); anything
		// odd there (a table missing, behind or unreadable, times going
		// backwards) and the whole ledger is replayed below instead.
		if byDays, ok, err := summarizeByDays(ctx, ex, p.Station, from, to); err == nil && ok {
			return byDays, nil
		}
	}
	return summarizeReplay(ctx, ex, p, from, to)
}

// summarizeFromDays is switched off by tests to compare the two ways.
var summarizeFromDays = true

// summarizeReplay replays every event before to.
func summarizeReplay(ctx context.Context, ex storage.Execer, p *Period, from, to time.Time) (*Period, error) {
	rows, err := ex.QueryContext(ctx, `SELECT seq, data FROM ledger_events WHERE at < ? ORDER BY seq`, formatTime(to))
	if err != nil {
		return nil, fmt.Errorf("inventory: summarize: read events: %w", err)
	}
	defer rows.Close()
	bal := balances{}
	printers := map[string]*PrinterPeriod{}
	pr := func(name string) *PrinterPeriod {
		if x := printers[name]; x != nil {
			return x
		}
		x := &PrinterPeriod{Printer: name, Spoiled: map[string]int64{}}
		printers[name] = x
		return x
	}
	p.Storage.Spoiled = map[string]int64{}
	fromS := formatTime(from)
	opened := false
	openPeriod := func() {
		opened = true
		p.Storage.Opening = bal[Storage]
		p.SpoiledOpening = bal[bSpoiled]
		for k, v := range bal {
			if name, ok := strings.CutPrefix(k, "printer:"); ok {
				pr(name).Opening = v
			}
		}
	}
	type reading struct {
		seq, value, fed int64
		ok              bool
	}
	counters := map[string]*reading{}
	var total int64
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, fmt.Errorf("inventory: summarize: read event: %w", err)
		}
		total++
		e, err := parseEntry(data, false)
		if err != nil {
			return nil, fmt.Errorf("inventory: summarize: event seq %d: %w (run audit verify)", seq, err)
		}
		in := formatTime(e.At) >= fromS
		if in && !opened {
			openPeriod()
		}
		if e.Kind == ShiftClosed && in {
			p.ShiftsClosed++
			for _, loc := range sortedKeys(e.Counted) {
				if have := bal[loc]; have != e.Counted[loc] {
					p.Discrepancies = append(p.Discrepancies, Discrepancy{Seq: seq, Location: loc, Ledger: have, Counted: e.Counted[loc],
						What: fmt.Sprintf("shift close by %s: counted %d at %s, the ledger says %d", e.Actor, e.Counted[loc], describe(loc), have)})
				}
			}
		}
		if _, err := bal.apply(e.Event); err != nil {
			return nil, fmt.Errorf("inventory: summarize: event seq %d does not replay: %v (run audit verify)", seq, refusalReason(err))
		}
		fedBy := ""
		switch {
		case e.Kind == Consumed || e.Kind == TestCard || (e.Kind == Spoiled && e.Printer != ""):
			fedBy = e.Printer
		}
		if fedBy != "" {
			r := counters[fedBy]
			if r == nil {
				r = &reading{}
				counters[fedBy] = r
			}
			r.fed++
		}
		if e.Kind == CounterReading {
			r := counters[e.Printer]
			if r == nil {
				r = &reading{}
				counters[e.Printer] = r
			}
			if in {
				p.CounterReadings++
				if r.ok && e.CardsInserted-r.value != r.fed {
					p.Discrepancies = append(p.Discrepancies, Discrepancy{Seq: seq, Location: InPrinter(e.Printer), Ledger: r.fed, Counted: e.CardsInserted - r.value,
						What: fmt.Sprintf("printer %s fed %d blanks by its counter between seq %d and %d, the ledger accounts for %d", e.Printer, e.CardsInserted-r.value, r.seq, seq, r.fed)})
				}
			}
			*r = reading{seq: seq, value: e.CardsInserted, ok: true}
		}
		if !in {
			continue
		}
		p.Events++
		switch e.Kind {
		case Received:
			p.Received += e.Quantity
			p.Storage.Received += e.Quantity
		case Loaded:
			p.Storage.Loaded += e.Quantity
			pr(e.Printer).Loaded += e.Quantity
		case Unloaded:
			p.Storage.Unloaded += e.Quantity
			pr(e.Printer).Unloaded += e.Quantity
		case Consumed:
			p.Consumed++
			pr(e.Printer).Consumed++
			pr(e.Printer).Fed++
		case TestCard:
			p.TestCards++
			pr(e.Printer).TestCards++
			pr(e.Printer).Fed++
		case Spoiled:
			p.Spoiled[e.Reason]++
			if e.Printer == "" {
				p.Storage.Spoiled[e.Reason]++
			} else {
				pr(e.Printer).Spoiled[e.Reason]++
				pr(e.Printer).Fed++
			}
		case Destroyed:
			p.Destroyed += e.Quantity
		case Adjusted:
			p.Adjusted += e.Quantity
			if name, ok := parseLocation(e.Location); ok && name != "" {
				pr(name).Adjusted += e.Quantity
			} else {
				p.Storage.Adjusted += e.Quantity
			}
		case CounterReading:
			pr(e.Printer)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inventory: summarize: read events: %w", err)
	}
	if !opened {
		openPeriod()
	}
	p.Storage.Closing = bal[Storage]
	p.SpoiledClosing = bal[bSpoiled]
	for k, v := range bal {
		if name, ok := strings.CutPrefix(k, "printer:"); ok {
			pr(name).Closing = v
		}
	}
	for _, name := range sortedKeys(printers) {
		x := printers[name]
		if r := counters[name]; r != nil && r.ok {
			v := r.value
			x.CounterAtClose = &v
			x.FedSinceReading = r.fed
		}
		p.Printers = append(p.Printers, *x)
	}
	p.Closing = stockOf(bal)
	p.Closing.Events = total
	return p, nil
}

// CheckCounts compares the auditor's physical counts (location → quantity,
// location being Storage or a printer name) and printers' hardware
// counters read now (printer → cards inserted) with the period's closing
// figures, adding a discrepancy for each difference.
func (p *Period) CheckCounts(physical, counters map[string]int64) {
	closing := map[string]int64{Storage: p.Storage.Closing}
	for _, x := range p.Printers {
		closing[x.Printer] = x.Closing
	}
	for _, loc := range sortedKeys(physical) {
		name := strings.TrimPrefix(loc, "printer:")
		want, ok := closing[name]
		if !ok {
			want = 0
		}
		if physical[loc] != want {
			p.Discrepancies = append(p.Discrepancies, Discrepancy{Seq: -1, Location: name, Ledger: want, Counted: physical[loc],
				What: fmt.Sprintf("physical count at %s is %d, the ledger says %d", describe(locationOf(name)), physical[loc], want)})
		}
	}
	byName := map[string]PrinterPeriod{}
	for _, x := range p.Printers {
		byName[x.Printer] = x
	}
	for _, name := range sortedKeys(counters) {
		x, ok := byName[name]
		if !ok || x.CounterAtClose == nil {
			p.Discrepancies = append(p.Discrepancies, Discrepancy{Seq: -1, Location: InPrinter(name), Counted: counters[name],
				What: fmt.Sprintf("printer %s: the ledger holds no counter reading to compare the hardware counter %d with", name, counters[name])})
			continue
		}
		want := *x.CounterAtClose + x.FedSinceReading
		if counters[name] != want {
			p.Discrepancies = append(p.Discrepancies, Discrepancy{Seq: -1, Location: InPrinter(name), Ledger: want, Counted: counters[name],
				What: fmt.Sprintf("printer %s: hardware counter reads %d, the ledger expects %d (last reading %d plus %d blanks fed since)", name, counters[name], want, *x.CounterAtClose, x.FedSinceReading)})
		}
	}
}

func locationOf(name string) string {
	if name == Storage {
		return Storage
	}
	return InPrinter(name)
}

// Forecast says how long the blanks will last at the recent rate.
type Forecast struct {
	Days       int     `json:"window_days"`
	Used       int64   `json:"used_in_window"` // consumed, spoiled and test cards
	PerDay     float64 `json:"per_day"`
	Available  int64   `json:"available"`
	DaysLeft   float64 `json:"days_left"` // -1 when nothing was used in the window
	LowStock   bool    `json:"low_stock"`
	LowAtBelow int64   `json:"low_stock_threshold,omitempty"`
}

// Forecast estimates days of stock left from the use over the last days
// days (0: 14).
func (l *Ledger) Forecast(ctx context.Context, days int) (Forecast, error) {
	b, err := loadBalances(ctx, l.db)
	if err != nil {
		return Forecast{}, err
	}
	return l.forecast(ctx, l.db, l.opt.Now(), days, stockOf(b).Available)
}

func (l *Ledger) forecast(ctx context.Context, ex storage.Execer, now time.Time, days int, available int64) (Forecast, error) {
	if days <= 0 {
		days = 14
	}
	f := Forecast{Days: days, LowAtBelow: l.opt.LowStock, Available: available}
	since := now.Add(-time.Duration(days) * 24 * time.Hour)
	if err := ex.QueryRowContext(ctx, `SELECT count(*) FROM ledger_events WHERE at >= ? AND at < ? AND kind IN (?, ?, ?)`,
		formatTime(since), formatTime(now), string(Consumed), string(Spoiled), string(TestCard)).Scan(&f.Used); err != nil {
		return Forecast{}, fmt.Errorf("inventory: forecast: %w", err)
	}
	f.PerDay = float64(f.Used) / float64(days)
	f.DaysLeft = -1
	if f.Used > 0 {
		f.DaysLeft = math.Round(float64(f.Available)/f.PerDay*10) / 10
	}
	f.LowStock = l.opt.LowStock > 0 && f.Available < l.opt.LowStock
	return f, nil
}

// StockReport is the daily report the centre receives.
type StockReport struct {
	Station  string   `json:"station"`
	Day      string   `json:"day"`
	Period   *Period  `json:"period"`
	Forecast Forecast `json:"forecast"`
}

// StockReport returns the JSON report of the calendar day containing day
// (in day's time zone): the day's movements, closing stock and forecast.
func (l *Ledger) StockReport(ctx context.Context, day time.Time) ([]byte, error) {
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, day.Location())
	end := start.AddDate(0, 0, 1)
	// A read transaction: one snapshot, and no write lock held while the
	// whole ledger is replayed.
	tx, err := l.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("inventory: stock report: %w", err)
	}
	defer tx.Rollback()
	p, err := Summarize(ctx, tx, start, end)
	if err != nil {
		return nil, fmt.Errorf("inventory: stock report for %s: %w", start.Format("2006-01-02"), err)
	}
	p.Closing.Low = l.opt.LowStock > 0 && p.Closing.Available < l.opt.LowStock
	f, err := l.forecast(ctx, tx, end, 0, p.Closing.Available)
	if err != nil {
		return nil, fmt.Errorf("inventory: stock report for %s: %w", start.Format("2006-01-02"), err)
	}
	return json.MarshalIndent(StockReport{Station: l.opt.StationID, Day: start.Format("2006-01-02"), Period: p, Forecast: f}, "", "  ")
}
