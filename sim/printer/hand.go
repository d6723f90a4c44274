package simprinter

import (
	"errors"
	"fmt"
)

// The operator's hands: what a person does with the printer open, so that
// recovery (a card stuck inside, an uncertain card taken out to be checked
// at a desk reader) is tested the way it happens, not by editing the
// simulator's state file. Every hand action is in the journal.

// ErrCoverClosed means a hand action needs the cover open first.
var ErrCoverClosed = errors.New("the printer's cover is closed: open it first")

// ErrNoCardInside means there is no card in the printer to take out.
var ErrNoCardInside = errors.New("there is no card inside the printer")

// OpenCover opens the printer's cover (the printer stops answering jobs
// with a cover-open error until it is closed).
func (s *Sim) OpenCover() { s.SetCover(true) }

// CloseCover closes the printer's cover.
func (s *Sim) CloseCover() { s.SetCover(false) }

// TakeOut takes the card inside out of the open printer, jammed or not,
// and says which card it was. The journal records card_removed.
func (s *Sim) TakeOut() (int, error) {
	s.mu.Lock()
	if !s.cover {
		s.mu.Unlock()
		return 0, ErrCoverClosed
	}
	if s.card == nil {
		s.mu.Unlock()
		return 0, ErrNoCardInside
	}
	n := s.card.n
	atEncoder := s.card.pos == "contactless"
	s.jammed = false
	s.finish("card_removed")
	s.mu.Unlock()
	if atEncoder && s.cfg.OnStation != nil {
		s.cfg.OnStation(StationEvent{Card: n, Arrived: false})
	}
	return n, nil
}

// PutBack puts card n, taken out earlier, back into the open printer at
// pos ("print" or "contactless"), as a person lays a card back into the
// transport. The journal records card_put_back; the card then leaves the
// printer like any other (card_out or card_rejected).
func (s *Sim) PutBack(n int, pos string) error {
	if pos != "print" && pos != "contactless" {
		return fmt.Errorf("put back at %q: expected print or contactless", pos)
	}
	s.mu.Lock()
	if !s.cover {
		s.mu.Unlock()
		return ErrCoverClosed
	}
	if s.card != nil {
		s.mu.Unlock()
		return fmt.Errorf("card %d is inside already: take it out first", s.card.n)
	}
	if n < 1 || n > s.st.LastCard {
		s.mu.Unlock()
		return fmt.Errorf("card %d never came from this printer's feeder (its last card is %d)", n, s.st.LastCard)
	}
	s.card = &card{n: n, pos: pos}
	s.record("card_put_back", "")
	s.saveLocked()
	s.mu.Unlock()
	if pos == "contactless" && s.cfg.OnStation != nil {
		s.cfg.OnStation(StationEvent{Card: n, Arrived: true})
	}
	return nil
}

// RemoveRibbon takes the ribbon out of the open printer (before a cleaning
// cycle, which runs only without one); nothing prints until it is back.
func (s *Sim) RemoveRibbon() error { return s.setRibbonRemoved(true, "ribbon_removed") }

// InstallRibbon puts the ribbon back into the open printer.
func (s *Sim) InstallRibbon() error { return s.setRibbonRemoved(false, "ribbon_installed") }

func (s *Sim) setRibbonRemoved(removed bool, event string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cover {
		return ErrCoverClosed
	}
	s.st.RibbonRemoved = removed
	s.record(event, "")
	s.saveLocked()
	return nil
}
