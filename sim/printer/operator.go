package simprinter

// ReplaceRibbon is what the operator does when the ribbon ran out: a fresh
// ribbon of the configured size.
func (s *Sim) ReplaceRibbon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.RibbonLeft = s.cfg.RibbonPrints
	s.st.RibbonRemoved = false
	s.saveLocked()
}
