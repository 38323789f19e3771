package api

import (
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// appView is an app as the API shows it: uid is null when not set.
type appView struct {
	ID        string    `json:"id"`
	UID       *string   `json:"uid"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func viewApp(a *herald.App) appView {
	v := appView{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if a.UID != "" {
		uid := a.UID
		v.UID = &uid
	}
	return v
}

type appInput struct {
	Name *string `json:"name"`
	UID  *string `json:"uid"`
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) *Error {
	var in appInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Name == nil {
		return errRequired("name")
	}
	if e := validateName("name", *in.Name); e != nil {
		return e
	}
	a := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: *in.Name}
	if in.UID != nil {
		if e := validateUID(*in.UID); e != nil {
			return e
		}
		a.UID = *in.UID
	}
	a.CreatedAt = s.o.Now().UTC()
	a.UpdatedAt = a.CreatedAt
	if err := s.st.AppCreate(r.Context(), a); err != nil {
		e := storeError(err, "app")
		if e.Code == CodeConflict {
			e.Field, e.Message = "uid", "an app with uid "+a.UID+" already exists"
		}
		return e
	}
	writeJSON(w, http.StatusCreated, viewApp(a))
	return nil
}

// app resolves the {app} path segment: Herald's id or the product's uid.
func (s *Server) app(r *http.Request) (*herald.App, *Error) {
	ref := r.PathValue("app")
	if a, ok := s.apps.Get(ref); ok {
		return &a, nil
	}
	a, err := s.st.AppGet(r.Context(), ref)
	if err != nil {
		return nil, storeError(err, "app")
	}
	s.apps.Put(ref, *a)
	return a, nil
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, viewApp(a))
	return nil
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) *Error {
	p, e := listParams(r)
	if e != nil {
		return e
	}
	pg, err := fetchPage(p, func(p store.ListParams) ([]*herald.App, error) { return s.st.AppList(r.Context(), p) },
		func(a *herald.App) string { return a.ID })
	if err != nil {
		return storeError(err, "app")
	}
	out := page[appView]{Data: make([]appView, len(pg.Data)), NextCursor: pg.NextCursor}
	for i, a := range pg.Data {
		out.Data[i] = viewApp(a)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	var in appInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Name != nil {
		if e := validateName("name", *in.Name); e != nil {
			return e
		}
		a.Name = *in.Name
	}
	if in.UID != nil {
		if e := validateUID(*in.UID); e != nil {
			return e
		}
		a.UID = *in.UID
	}
	a.UpdatedAt = s.o.Now().UTC()
	err := s.st.AppUpdate(r.Context(), a)
	// After the change, so that no lookup in between caches the old app.
	s.apps.Reset()
	if err != nil {
		e := storeError(err, "app")
		if e.Code == CodeConflict {
			e.Field, e.Message = "uid", "an app with uid "+a.UID+" already exists"
		}
		return e
	}
	writeJSON(w, http.StatusOK, viewApp(a))
	return nil
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	err := s.st.AppDelete(r.Context(), a.ID)
	s.apps.Reset()
	if err != nil {
		return storeError(err, "app")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
