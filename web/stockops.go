package web

// stockRoutes registers the supervisor's stock screens (issue 15, part 3).
func (h *handler) stockRoutes() {}
