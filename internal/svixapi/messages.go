package svixapi

// messageRoutes registers messages and message attempts.
func (h *Handler) messageRoutes() {}
