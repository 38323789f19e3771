package api

import (
	"net/http"

	"github.com/heraldhq/herald/internal/store"
)

// Bounds of GET /v1/apps/{app}/channels: it reads the app's latest
// events only, so that its cost does not grow with the history.
const (
	channelsScanEvents = 1000
	channelsMax        = 100
)

// channelsView lists the channels an app's events used lately.
type channelsView struct {
	// Data holds the channels, most recently used first.
	Data []string `json:"data"`
	// Scanned is how many of the latest events were read.
	Scanned int `json:"scanned"`
}

// listChannels answers GET /v1/apps/{app}/channels: the distinct
// channels of the app's latest events, for a form that lets a customer
// pick theirs (immdio's forms).
func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	out := channelsView{Data: []string{}}
	seen := map[string]bool{}
	p := store.EventListParams{AppID: a.ID, ListParams: store.ListParams{Limit: min(store.MaxListLimit, channelsScanEvents)}}
	for out.Scanned < channelsScanEvents && len(out.Data) < channelsMax {
		evs, err := s.st.EventList(r.Context(), p)
		if err != nil {
			return storeError(err, "event")
		}
		for _, ev := range evs {
			out.Scanned++
			for _, c := range ev.Channels {
				if !seen[c] && len(out.Data) < channelsMax {
					seen[c] = true
					out.Data = append(out.Data, c)
				}
			}
		}
		if len(evs) < p.Limit {
			break
		}
		p.Cursor = evs[len(evs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
