package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// accessCases check API keys and the audit log.
var accessCases = []testCase{
	{"APIKey/create_get_delete", testAPIKeyCRUD},
	{"APIKey/conflicts", testAPIKeyConflicts},
	{"APIKey/list", testAPIKeyList},
	{"Audit/append_list", testAuditAppendList},
	{"AppDelete/keys_and_audit", testAppDeleteKeysAudit},
}

// Id prefixes of the suite's keys and audit entries. Stores only need ids
// that sort by creation; the prefixes make failures readable.
const (
	keyPrefix   = "key_"
	auditPrefix = "aud_"
)

// newKey returns a key of the app (installation-wide when appID is empty).
// Its hash is derived from its id, so every key's is distinct.
func newKey(appID string) *herald.APIKey {
	id := herald.NewID(keyPrefix)
	scope := "app"
	if appID == "" {
		scope = "admin"
	}
	return &herald.APIKey{
		ID:        id,
		Name:      "key " + id,
		Scope:     scope,
		AppID:     appID,
		Prefix:    "hk_" + id[len(id)-6:],
		Hash:      "sha256:" + id,
		CreatedAt: t0,
	}
}

func mkKey(t *testing.T, s store.Store, appID string) *herald.APIKey {
	t.Helper()
	k := newKey(appID)
	noErr(t, s.APIKeyCreate(t.Context(), k), "APIKeyCreate")
	return k
}

func keyIDs(ks []*herald.APIKey) []string {
	ids := make([]string, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	return ids
}

func newAudit(appID, action string, at time.Time) *herald.AuditEntry {
	return &herald.AuditEntry{
		ID:     herald.NewID(auditPrefix),
		At:     at,
		KeyID:  "admin",
		AppID:  appID,
		Action: action,
		Target: "target of " + action,
	}
}

func mkAudit(t *testing.T, s store.Store, appID, action string) *herald.AuditEntry {
	t.Helper()
	e := newAudit(appID, action, at(time.Minute))
	noErr(t, s.AuditAppend(t.Context(), e), "AuditAppend")
	return e
}

func auditIDs(es []*herald.AuditEntry) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

func testAPIKeyCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")

	// An installation-wide key that never expires: AppID and ExpiresAt
	// come back empty and nil.
	admin := newKey("")
	noErr(t, s.APIKeyCreate(ctx, admin), "APIKeyCreate admin")
	// An app's read-only key with an expiry that has nanoseconds: stores
	// keep microseconds, like every other time.
	expires := at(30 * 24 * time.Hour)
	appKey := newKey(a.ID)
	appKey.ReadOnly = true
	appKey.ExpiresAt = &expires
	noErr(t, s.APIKeyCreate(ctx, appKey), "APIKeyCreate app")

	// A portal session keeps its role; other keys have none.
	session := newKey(a.ID)
	session.Scope = "portal"
	session.Role = "developer"
	session.ExpiresAt = &expires
	noErr(t, s.APIKeyCreate(ctx, session), "APIKeyCreate portal session")
	got, err := s.APIKeyByHash(ctx, session.Hash)
	noErr(t, err, "APIKeyByHash portal session")
	equal(t, "portal session", got, session)
	if got.Role != "developer" {
		t.Errorf("portal session role: got %q, want developer", got.Role)
	}
	noErr(t, s.APIKeyDelete(ctx, session.ID), "APIKeyDelete portal session")

	got, err = s.APIKeyByHash(ctx, admin.Hash)
	noErr(t, err, "APIKeyByHash admin")
	equal(t, "admin key", got, admin)
	if got.AppID != "" || got.ExpiresAt != nil || got.ReadOnly {
		t.Errorf("admin key: AppID %q, ExpiresAt %v, ReadOnly %v; want empty, nil, false", got.AppID, got.ExpiresAt, got.ReadOnly)
	}
	got, err = s.APIKeyByHash(ctx, appKey.Hash)
	noErr(t, err, "APIKeyByHash app")
	equal(t, "app key", got, appKey)
	if got.ExpiresAt == nil || !got.ExpiresAt.Equal(us(expires)) || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt: got %v, want %v in UTC", got.ExpiresAt, us(expires))
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt: got %v, want UTC", got.CreatedAt)
	}
	_, err = s.APIKeyByHash(ctx, "sha256:unknown")
	wantErr(t, err, store.ErrNotFound, "APIKeyByHash of an unknown hash")
	_, err = s.APIKeyByHash(ctx, "")
	wantErr(t, err, store.ErrNotFound, "APIKeyByHash of an empty hash")

	noErr(t, s.APIKeyDelete(ctx, appKey.ID), "APIKeyDelete")
	_, err = s.APIKeyByHash(ctx, appKey.Hash)
	wantErr(t, err, store.ErrNotFound, "APIKeyByHash of a deleted key")
	wantErr(t, s.APIKeyDelete(ctx, appKey.ID), store.ErrNotFound, "APIKeyDelete again")
	wantErr(t, s.APIKeyDelete(ctx, herald.NewID(keyPrefix)), store.ErrNotFound, "APIKeyDelete of an unknown key")
	got, err = s.APIKeyByHash(ctx, admin.Hash)
	noErr(t, err, "APIKeyByHash of the other key")
	equal(t, "other key after delete", got, admin)
	list, err := s.APIKeyList(ctx, "", store.ListParams{})
	noErr(t, err, "APIKeyList")
	equal(t, "keys after delete", list, []*herald.APIKey{admin})
}

func testAPIKeyConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	k := mkKey(t, s, a.ID)

	sameID := newKey(a.ID)
	sameID.ID = k.ID
	wantErr(t, s.APIKeyCreate(ctx, sameID), store.ErrConflict, "APIKeyCreate with a taken id")
	sameHash := newKey("")
	sameHash.Hash = k.Hash
	wantErr(t, s.APIKeyCreate(ctx, sameHash), store.ErrConflict, "APIKeyCreate with a taken hash")
	got, err := s.APIKeyByHash(ctx, k.Hash)
	noErr(t, err, "APIKeyByHash")
	equal(t, "key after conflicts", got, k)

	// A key of an app that does not exist is refused, as an endpoint of
	// one is: AppDelete could not have removed it, and it could read the
	// audit entries a deleted app leaves behind.
	wantErr(t, s.APIKeyCreate(ctx, newKey(herald.NewID(herald.PrefixApp))), store.ErrNotFound,
		"APIKeyCreate for an unknown app")

	// A deleted key's id and hash are free again.
	noErr(t, s.APIKeyDelete(ctx, k.ID), "APIKeyDelete")
	noErr(t, s.APIKeyCreate(ctx, sameHash), "APIKeyCreate with a freed hash")
	got, err = s.APIKeyByHash(ctx, k.Hash)
	noErr(t, err, "APIKeyByHash of the new key")
	equal(t, "key with a reused hash", got, sameHash)
	list, err := s.APIKeyList(ctx, "", store.ListParams{})
	noErr(t, err, "APIKeyList")
	equal(t, "keys after conflicts", list, []*herald.APIKey{sameHash})
}

func testAPIKeyList(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	b := mkApp(t, s, "b")
	// Created in this order, so ids ascend in it.
	admin1 := mkKey(t, s, "")
	a1 := mkKey(t, s, a.ID)
	b1 := mkKey(t, s, b.ID)
	a2 := mkKey(t, s, a.ID)
	admin2 := mkKey(t, s, "")
	a3 := mkKey(t, s, a.ID)

	all, err := s.APIKeyList(ctx, "", store.ListParams{})
	noErr(t, err, "APIKeyList all")
	equal(t, "all keys, newest first", all, []*herald.APIKey{a3, admin2, a2, b1, a1, admin1})
	ofA, err := s.APIKeyList(ctx, a.ID, store.ListParams{})
	noErr(t, err, "APIKeyList of a")
	equal(t, "keys of a", ofA, []*herald.APIKey{a3, a2, a1})
	ofB, err := s.APIKeyList(ctx, b.ID, store.ListParams{})
	noErr(t, err, "APIKeyList of b")
	equal(t, "keys of b", ofB, []*herald.APIKey{b1})
	none, err := s.APIKeyList(ctx, herald.NewID(herald.PrefixApp), store.ListParams{})
	noErr(t, err, "APIKeyList of an unknown app")
	if len(none) != 0 {
		t.Errorf("keys of an unknown app: %v, want none", keyIDs(none))
	}

	// Pages of all keys, then of one app's, each cursor the last id.
	for _, c := range []struct {
		appID string
		want  [][]string
	}{
		{"", [][]string{{a3.ID, admin2.ID}, {a2.ID, b1.ID}, {a1.ID, admin1.ID}, nil}},
		{a.ID, [][]string{{a3.ID, a2.ID}, {a1.ID}}},
	} {
		p := store.ListParams{Limit: 2}
		for i, want := range c.want {
			page, err := s.APIKeyList(ctx, c.appID, p)
			noErr(t, err, "APIKeyList page")
			equalIDs(t, fmt.Sprintf("keys of app %q, page %d", c.appID, i+1), keyIDs(page), want)
			if len(page) == 0 {
				break
			}
			p.Cursor = page[len(page)-1].ID
		}
	}
	// The last page of a's keys, after its last key: empty.
	page, err := s.APIKeyList(ctx, a.ID, store.ListParams{Cursor: a1.ID, Limit: 2})
	noErr(t, err, "APIKeyList past the end")
	if len(page) != 0 {
		t.Errorf("keys of a after %s: %v, want none", a1.ID, keyIDs(page))
	}
}

func testAuditAppendList(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	b := mkApp(t, s, "b")

	// Changes are kept byte for byte: the spacing and key order are not
	// those encoding/json would produce.
	created := newAudit(a.ID, "endpoint.create", at(time.Second))
	created.KeyID = herald.NewID(keyPrefix)
	created.Changes = herald.RawJSON(`{ "url":"https://example.com/x",  "secret":"***" }`)
	noErr(t, s.AuditAppend(ctx, created), "AuditAppend")
	// Installation-wide, without changes: AppID and Changes come back
	// empty.
	global := newAudit("", "event_type.delete", at(2*time.Second))
	global.KeyID = "herald"
	noErr(t, s.AuditAppend(ctx, global), "AuditAppend")
	ofB := mkAudit(t, s, b.ID, "app.update")
	updated := mkAudit(t, s, a.ID, "endpoint.update")

	all, err := s.AuditList(ctx, "", store.ListParams{})
	noErr(t, err, "AuditList all")
	equal(t, "all entries, newest first", all, []*herald.AuditEntry{updated, ofB, global, created})
	if all[3].At.Location() != time.UTC {
		t.Errorf("At: got %v, want UTC", all[3].At)
	}
	if string(all[3].Changes) != string(created.Changes) {
		t.Errorf("Changes: got %s, want %s byte for byte", all[3].Changes, created.Changes)
	}
	if all[2].AppID != "" || all[2].Changes != nil {
		t.Errorf("installation-wide entry: AppID %q, Changes %q; want empty, nil", all[2].AppID, all[2].Changes)
	}
	listA, err := s.AuditList(ctx, a.ID, store.ListParams{})
	noErr(t, err, "AuditList of a")
	equal(t, "entries of a", listA, []*herald.AuditEntry{updated, created})
	listB, err := s.AuditList(ctx, b.ID, store.ListParams{})
	noErr(t, err, "AuditList of b")
	equal(t, "entries of b", listB, []*herald.AuditEntry{ofB})

	// Pages, each cursor the last id.
	for _, c := range []struct {
		appID string
		want  [][]string
	}{
		{"", [][]string{{updated.ID, ofB.ID, global.ID}, {created.ID}, nil}},
		{a.ID, [][]string{{updated.ID}, {created.ID}, nil}},
	} {
		limit := 3
		if c.appID != "" {
			limit = 1
		}
		p := store.ListParams{Limit: limit}
		for i, want := range c.want {
			page, err := s.AuditList(ctx, c.appID, p)
			noErr(t, err, "AuditList page")
			equalIDs(t, fmt.Sprintf("entries of app %q, page %d", c.appID, i+1), auditIDs(page), want)
			if len(page) == 0 {
				break
			}
			p.Cursor = page[len(page)-1].ID
		}
	}

	dup := newAudit(a.ID, "app.delete", at(time.Hour))
	dup.ID = created.ID
	wantErr(t, s.AuditAppend(ctx, dup), store.ErrConflict, "AuditAppend with a taken id")
	// An entry may name an app that does not exist (any more): the log
	// is history, not a reference.
	gone := newAudit(herald.NewID(herald.PrefixApp), "app.delete", at(time.Hour))
	noErr(t, s.AuditAppend(ctx, gone), "AuditAppend of an unknown app")
	listGone, err := s.AuditList(ctx, gone.AppID, store.ListParams{})
	noErr(t, err, "AuditList of an unknown app")
	equal(t, "entries of an unknown app", listGone, []*herald.AuditEntry{gone})
}

// testAppDeleteKeysAudit: deleting an app deletes its keys (a key of no
// app must not keep authenticating) but keeps its audit entries: the
// history of a deleted tenant stays readable by the installation's admin.
func testAppDeleteKeysAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	b := mkApp(t, s, "b")
	keyA1 := mkKey(t, s, a.ID)
	keyB := mkKey(t, s, b.ID)
	admin := mkKey(t, s, "")
	keyA2 := mkKey(t, s, a.ID)
	auditA := mkAudit(t, s, a.ID, "endpoint.create")
	auditB := mkAudit(t, s, b.ID, "endpoint.create")
	auditDelete := mkAudit(t, s, a.ID, "app.delete")

	noErr(t, s.AppDelete(ctx, a.ID), "AppDelete")
	for _, k := range []*herald.APIKey{keyA1, keyA2} {
		_, err := s.APIKeyByHash(ctx, k.Hash)
		wantErr(t, err, store.ErrNotFound, "APIKeyByHash of a deleted app's key")
		wantErr(t, s.APIKeyDelete(ctx, k.ID), store.ErrNotFound, "APIKeyDelete of a deleted app's key")
	}
	listA, err := s.APIKeyList(ctx, a.ID, store.ListParams{})
	noErr(t, err, "APIKeyList of the deleted app")
	if len(listA) != 0 {
		t.Errorf("keys of the deleted app: %v, want none", keyIDs(listA))
	}
	all, err := s.APIKeyList(ctx, "", store.ListParams{})
	noErr(t, err, "APIKeyList")
	equal(t, "keys left", all, []*herald.APIKey{admin, keyB})

	auditOfA, err := s.AuditList(ctx, a.ID, store.ListParams{})
	noErr(t, err, "AuditList of the deleted app")
	equal(t, "entries of the deleted app", auditOfA, []*herald.AuditEntry{auditDelete, auditA})
	allAudit, err := s.AuditList(ctx, "", store.ListParams{})
	noErr(t, err, "AuditList")
	equal(t, "all entries after AppDelete", allAudit, []*herald.AuditEntry{auditDelete, auditB, auditA})
}
