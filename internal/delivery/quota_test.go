package delivery

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// An event the store refuses for its app's quota gives back the room in
// memory its deliveries had reserved: a leak would shrink the endpoint's
// and the node's room for good.
func TestEngineRefusedEventReleasesRoom(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{QueueTotal: 100}, always(http.StatusOK))
		r.app.MonthlyDeliveryQuota = 1
		if err := r.db.AppUpdate(context.Background(), r.app); err != nil {
			t.Fatal(err)
		}
		ep := r.endpoint(nil)
		r.enqueue(1)
		synctest.Wait()
		res, err := r.e.Enqueue(context.Background(), &herald.Event{AppID: r.app.ID, EventType: "lead.created", Payload: herald.RawJSON(`{}`)})
		if err != nil || !errors.Is(res.Err, store.ErrQuotaExceeded) {
			t.Fatalf("an event past the quota: %v %v, want refused for the quota", err, res.Err)
		}
		synctest.Wait()
		if per, total := r.e.budget.room(ep.ID); per != r.e.o.QueuePerEndpoint || total != 100 {
			t.Fatalf("room left: %d for the endpoint, %d in all; want all of it (%d, 100)", per, total, r.e.o.QueuePerEndpoint)
		}
		if n := len(r.sent()); n != 1 {
			t.Fatalf("%d sent, want the one admitted", n)
		}
	})
}
