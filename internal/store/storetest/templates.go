package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var templateCases = []testCase{
	{"EndpointTemplate/crud", testEndpointTemplateCRUD},
	{"DeliveryList/channel", testDeliveryListChannel},
}

// An endpoint template round-trips its request shape, is scoped to its
// app, lists newest first with a cursor, and goes with its app.
func testEndpointTemplateCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "tpl-a"), mkApp(t, s, "tpl-b")
	var made []*herald.EndpointTemplate
	for i := range 3 {
		tp := &herald.EndpointTemplate{
			ID: herald.NewID(herald.PrefixEndpointTemplate), AppID: a.ID, Name: "chatwork", Description: "the room",
			URL: "https://api.chatwork.com/v2/rooms/{{payload.room}}/messages",
			RequestShape: herald.RequestShape{Method: "POST", ContentType: herald.ContentForm,
				Headers: map[string]string{"X-ChatWorkToken": "secret-token"}, PlainHeaders: []string{},
				BodyTemplate: herald.RawJSON(`{"body":"{{payload.name}}"}`), Preset: "chatwork",
				PresetOptions: map[string]string{"room_id": "42", "api_token": "tok"}},
			CreatedAt: at(time.Duration(i) * time.Second), UpdatedAt: at(time.Duration(i) * time.Second),
		}
		if err := s.EndpointTemplateCreate(ctx, tp); err != nil {
			t.Fatalf("EndpointTemplateCreate: %v", err)
		}
		made = append(made, tp)
	}
	wantErr(t, s.EndpointTemplateCreate(ctx, made[0]), store.ErrConflict, "EndpointTemplateCreate with a taken id")
	got, err := s.EndpointTemplateGet(ctx, a.ID, made[0].ID)
	if err != nil {
		t.Fatalf("EndpointTemplateGet: %v", err)
	}
	want := *made[0]
	want.CreatedAt, want.UpdatedAt = us(want.CreatedAt), us(want.UpdatedAt)
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("EndpointTemplateGet:\n got %+v\nwant %+v", got, &want)
	}
	_, err = s.EndpointTemplateGet(ctx, b.ID, made[0].ID)
	wantErr(t, err, store.ErrNotFound, "EndpointTemplateGet from another app")

	list, err := s.EndpointTemplateList(ctx, a.ID, store.ListParams{Limit: 2})
	if err != nil || len(list) != 2 || list[0].ID != made[2].ID || list[1].ID != made[1].ID {
		t.Fatalf("EndpointTemplateList page 1: %v %v", list, err)
	}
	list, err = s.EndpointTemplateList(ctx, a.ID, store.ListParams{Limit: 2, Cursor: list[1].ID})
	if err != nil || len(list) != 1 || list[0].ID != made[0].ID {
		t.Fatalf("EndpointTemplateList page 2: %v %v", list, err)
	}
	if list, err := s.EndpointTemplateList(ctx, b.ID, store.ListParams{}); err != nil || len(list) != 0 {
		t.Fatalf("EndpointTemplateList of another app: %v %v", list, err)
	}

	up := *made[0]
	up.Name, up.URL, up.Headers, up.UpdatedAt = "chatwork v2", "https://example.com/x", map[string]string{"X-Other": "v"}, at(time.Hour)
	if err := s.EndpointTemplateUpdate(ctx, &up); err != nil {
		t.Fatalf("EndpointTemplateUpdate: %v", err)
	}
	got, _ = s.EndpointTemplateGet(ctx, a.ID, up.ID)
	if got.Name != "chatwork v2" || got.URL != up.URL || got.Headers["X-Other"] != "v" || len(got.Headers) != 1 || !got.UpdatedAt.Equal(us(up.UpdatedAt)) || !got.CreatedAt.Equal(us(made[0].CreatedAt)) {
		t.Fatalf("after EndpointTemplateUpdate: %+v", got)
	}
	other := up
	other.AppID = b.ID
	wantErr(t, s.EndpointTemplateUpdate(ctx, &other), store.ErrNotFound, "EndpointTemplateUpdate in another app")

	wantErr(t, s.EndpointTemplateDelete(ctx, b.ID, made[1].ID), store.ErrNotFound, "EndpointTemplateDelete from another app")
	if err := s.EndpointTemplateDelete(ctx, a.ID, made[1].ID); err != nil {
		t.Fatalf("EndpointTemplateDelete: %v", err)
	}
	_, err = s.EndpointTemplateGet(ctx, a.ID, made[1].ID)
	wantErr(t, err, store.ErrNotFound, "EndpointTemplateGet after delete")
	wantErr(t, s.EndpointTemplateDelete(ctx, a.ID, made[1].ID), store.ErrNotFound, "EndpointTemplateDelete twice")

	if err := s.AppDelete(ctx, a.ID); err != nil {
		t.Fatalf("AppDelete: %v", err)
	}
	if list, err := s.EndpointTemplateList(ctx, a.ID, store.ListParams{}); err != nil || len(list) != 0 {
		t.Fatalf("templates left after AppDelete: %v %v", list, err)
	}
}

// The delivery lists keep, by Channel, the deliveries of the events
// carrying that channel (exactly, never by prefix).
func testDeliveryListChannel(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	ep := newEndpoint(a.ID)
	if err := s.EndpointCreate(ctx, ep); err != nil {
		t.Fatalf("EndpointCreate: %v", err)
	}
	mk := func(d time.Duration, channels ...string) *herald.Event {
		ev := newEvent(a.ID, "t.one", at(d))
		ev.Channels = channels
		return ev
	}
	e1, e2, e3 := mk(0, "form_1", "form_2"), mk(time.Second, "form_2"), mk(2*time.Second)
	e4 := mk(3*time.Second, "form_10")
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, e1, e2, e3, e4)
	list := func(appID, channel string) []string {
		t.Helper()
		ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: appID, Channel: channel})
		noErr(t, err, "DeliveryList")
		ids := []string{}
		for _, d := range ds {
			ids = append(ids, d.EventID)
		}
		return ids
	}
	equalIDs(t, "channel form_1", list(a.ID, "form_1"), []string{e1.ID})
	equalIDs(t, "channel form_2", list(a.ID, "form_2"), []string{e2.ID, e1.ID})
	equalIDs(t, "channel form_ (no prefix match)", list(a.ID, "form_"), nil)
	equalIDs(t, "channel form_2, every app", list("", "form_2"), []string{e2.ID, e1.ID})
	equalIDs(t, "no channel filter", list(a.ID, ""), []string{e4.ID, e3.ID, e2.ID, e1.ID})
}
