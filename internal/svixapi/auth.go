package svixapi

func (h *Handler) authRoutes()        {}
func (h *Handler) unsupportedRoutes() {}
