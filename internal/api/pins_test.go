package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/store"
)

type pinned struct {
	AppID       string  `json:"app_id"`
	ID          string  `json:"id"`
	UID         *string `json:"uid"`
	Description string  `json:"description"`
	Kind        string  `json:"kind"`
	URL         string  `json:"url"`
	Version     string  `json:"version"`
}

// pinnedPages reads every page of the pinned endpoints at limit a page,
// as the caller h, and answers their ids and versions ("id@version") in
// order and the number of pages.
func pinnedPages(t *testing.T, s *heraldtest.Server, h http.Header, typ string, query url.Values, limit int) ([]string, int) {
	t.Helper()
	var got []string
	cursor, pages := "", 0
	for {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("limit", fmt.Sprint(limit))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var pg struct {
			Data       []pinned `json:"data"`
			NextCursor *string  `json:"next_cursor"`
		}
		if code := s.DoWith("GET", "/v1/event-types/"+typ+"/pinned-endpoints?"+q.Encode(), nil, &pg, h); code != 200 {
			t.Fatalf("page %d: status %d", pages+1, code)
		}
		pages++
		if len(pg.Data) > limit {
			t.Fatalf("page %d holds %d endpoints, the limit is %d", pages, len(pg.Data), limit)
		}
		for _, p := range pg.Data {
			got = append(got, p.ID+"@"+p.Version)
		}
		if pg.NextCursor == nil {
			return got, pages
		}
		if pages > 20 {
			t.Fatal("the pages do not end")
		}
		cursor = *pg.NextCursor
	}
}

// TestPinnedEndpoints: the endpoints pinned to a type's versions, through
// their own pin or "*", listed per version; an app key and a portal
// session see only their app's, an admin every app's, page by page with
// no endpoint twice nor missed; on both stores.
func TestPinnedEndpoints(t *testing.T) {
	pullStoresWith(t, func(c *config.Serve) {}, func(t *testing.T, s *heraldtest.Server) {
		s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
		s.MustDo("POST", "/v1/apps", map[string]any{"name": "Beta", "uid": "beta"}, nil, 201)
		typ := versionedType(t, s)
		mk := func(app, desc string, pins map[string]string) string {
			t.Helper()
			body := map[string]any{"url": "http://127.0.0.1:9/" + desc, "description": desc, "event_types": []string{typ}}
			if pins != nil {
				body["event_type_versions"] = pins
			}
			var ep struct{ ID string }
			s.MustDo("POST", "/v1/apps/"+app+"/endpoints", body, &ep, 201)
			return ep.ID
		}
		first := mk("acme", "first", map[string]string{typ: ""})
		mid := mk("acme", "mid", map[string]string{typ: "2026-06-01"})
		mk("acme", "latest", nil)
		star := mk("acme", "star", map[string]string{"*": "2026-07-01"}) // resolves to 2026-06-01
		mk("acme", "other", map[string]string{"*": "v9"})                // a token the type lacks: not pinned
		var betas []string
		for i := range 3 {
			betas = append(betas, mk("beta", fmt.Sprint("beta", i), map[string]string{typ: "2026-06-01"}))
		}
		at := func(v string, ids ...string) []string {
			out := make([]string, len(ids))
			for i, id := range ids {
				out[i] = id + "@" + v
			}
			return out
		}
		admin := http.Header{"Authorization": {"Bearer " + heraldtest.Token}}
		mid6 := url.Values{"version": {"2026-06-01"}}

		// The admin: beta (the newer app) first, each app's newest
		// endpoint first, one a page.
		want := at("2026-06-01", betas[2], betas[1], betas[0], star, mid)
		got, pages := pinnedPages(t, s, admin, typ, mid6, 1)
		if !slices.Equal(got, want) || pages != 5 {
			t.Fatalf("admin, one a page: %v in %d pages, want %v in 5", got, pages, want)
		}
		got, pages = pinnedPages(t, s, admin, typ, mid6, 2)
		if !slices.Equal(got, want) || pages != 3 {
			t.Fatalf("admin, two a page: %v in %d pages, want %v in 3", got, pages, want)
		}
		got, _ = pinnedPages(t, s, admin, typ, url.Values{"version": {""}}, 50)
		if !slices.Equal(got, at("", first)) {
			t.Fatalf("admin, first version: %v", got)
		}
		got, _ = pinnedPages(t, s, admin, typ, nil, 50)
		if want := append(append([]string{}, want[:4]...), mid+"@2026-06-01", first+"@"); !slices.Equal(got, want) {
			t.Fatalf("admin, every version: %v, want %v", got, want)
		}

		// An app key and a portal session of acme: acme's alone.
		key := mkKey(t, s, map[string]any{"name": "acme", "scope": "app", "app": "acme"})
		var ps portalAnswer
		s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{"role": "viewer"}, &ps, 201)
		for name, h := range map[string]http.Header{"app key": bearer(key), "portal viewer": bearer(ps.Token)} {
			got, pages := pinnedPages(t, s, h, typ, mid6, 1)
			if want := at("2026-06-01", star, mid); !slices.Equal(got, want) || pages != 2 {
				t.Fatalf("%s: %v in %d pages, want %v in 2", name, got, pages, want)
			}
		}
		var one struct{ Data []pinned }
		s.MustDo("GET", "/v1/event-types/"+typ+"/pinned-endpoints?version=", nil, &one, 200)
		if len(one.Data) != 1 || one.Data[0].AppID != s.AppID("acme") || one.Data[0].Description != "first" ||
			one.Data[0].URL != "http://127.0.0.1:9/first" || one.Data[0].Kind != "push" || one.Data[0].UID != nil {
			t.Fatalf("first version: %+v", one.Data)
		}

		// The counts agree with the lists.
		var vs struct {
			Data []struct {
				Version   string
				Endpoints int
			}
		}
		s.MustDo("GET", "/v1/event-types/"+typ+"/versions", nil, &vs, 200)
		if len(vs.Data) != 3 || vs.Data[0].Endpoints != 1 || vs.Data[1].Endpoints != 5 || vs.Data[2].Endpoints != 0 {
			t.Fatalf("counts %+v", vs.Data)
		}

		// Bad input names the parameter.
		for q, field := range map[string]string{"version=2020-01-01": "version", "cursor=nonsense": "cursor", "limit=0": "limit", "app=acme": "app"} {
			var e struct{ Error struct{ Field string } }
			if code := s.Invalid().Do("GET", "/v1/event-types/"+typ+"/pinned-endpoints?"+q, nil, &e); code != 400 || e.Error.Field != field {
				t.Errorf("?%s: %d on %q, want 400 on %q", q, code, e.Error.Field, field)
			}
		}
		if code := s.Do("GET", "/v1/event-types/no.such.type/pinned-endpoints", nil, nil); code != 404 {
			t.Errorf("an unknown type: %d, want 404", code)
		}
	})
}

// brokenAppStore fails the endpoint list of one app while broken is set:
// a store that fails midway through the apps.
type brokenAppStore struct {
	store.Store
	app    atomic.Value
	broken atomic.Bool
}

func (b *brokenAppStore) EndpointList(ctx context.Context, appID string, p store.ListParams) ([]*herald.Endpoint, error) {
	if b.broken.Load() && b.app.Load() == appID {
		return nil, fmt.Errorf("dial tcp 127.0.0.1:5432: %w", syscall.ECONNREFUSED)
	}
	return b.Store.EndpointList(ctx, appID, p)
}

// TestPinCountsFailLoudly: a store failing on one app's endpoints fails
// the counts of pinned endpoints and their list (503, to retry) rather
// than answering counts of the other apps alone.
func TestPinCountsFailLoudly(t *testing.T) {
	t.Parallel()
	b := &brokenAppStore{}
	s := heraldtest.Start(t, heraldtest.Options{Store: func(st store.Store) store.Store { b.Store = st; return b }})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Beta", "uid": "beta"}, nil, 201)
	typ := versionedType(t, s)
	for _, app := range []string{"acme", "beta"} {
		s.MustDo("POST", "/v1/apps/"+app+"/endpoints", map[string]any{"url": "http://127.0.0.1:9/", "event_types": []string{typ},
			"event_type_versions": map[string]string{typ: ""}}, nil, 201)
	}
	b.app.Store(s.AppID("acme"))
	b.broken.Store(true)
	for _, path := range []string{"/v1/event-types/" + typ, "/v1/event-types/" + typ + "/versions",
		"/v1/event-types/" + typ + "/versions/2026-06-01", "/v1/event-types/" + typ + "/pinned-endpoints"} {
		var e struct{ Error struct{ Code string } }
		if code := s.Do("GET", path, nil, &e); code != 503 || e.Error.Code != "unavailable" {
			t.Errorf("GET %s with one app's endpoints unreadable: %d %q, want 503 unavailable", path, code, e.Error.Code)
		}
	}
	// Once the store answers (and the server has seen it back), the
	// counts are whole.
	b.broken.Store(false)
	var et struct {
		PinnedEndpoints map[string]int `json:"pinned_endpoints"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code := s.Do("GET", "/v1/event-types/"+typ, nil, &et)
		if code == 200 {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("GET the type once the store is back: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if et.PinnedEndpoints[""] != 2 {
		t.Fatalf("pinned_endpoints %v once the store answers", et.PinnedEndpoints)
	}
}
