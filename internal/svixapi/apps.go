package svixapi

// appRoutes registers applications, event types, endpoints,
// authentication and the rest that is not messages or attempts.
func (h *Handler) appRoutes() {}
