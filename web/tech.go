package web

// techRoutes registers the technician's screens (issue 15, part 1).
func (h *handler) techRoutes() {}
