package web

// auditRoutes registers the auditor's screens (issue 15, part 2).
func (h *handler) auditRoutes() {}
