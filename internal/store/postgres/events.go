package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Statements of EventsEnqueue. Rows go in as arrays through unnest: one
// statement (and one round trip, all of them sent as one pgx.Batch) per
// table, whatever the batch's size.
const (
	// lockIdempotencyKeys takes a transaction lock per (app, key) of the
	// batch, in a fixed order, so that two nodes enqueuing the same key
	// at once cannot both miss the other's event: the second waits for
	// the first to commit, then its lookup sees it.
	lockIdempotencyKeys = `SELECT pg_advisory_xact_lock($1::int, h)
		FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($2::text[]) AS k ORDER BY 1) AS keys`
	// findIdempotent finds, per (app, key), the earliest event since $3.
	findIdempotent = `SELECT DISTINCT ON (ev.app_id, ev.idempotency_key) ` + eventCols + `
		FROM events ev
		JOIN unnest($1::text[], $2::text[]) AS k(app_id, key)
			ON ev.app_id = k.app_id AND ev.idempotency_key = k.key
		WHERE ev.created_at >= $3
		ORDER BY ev.app_id, ev.idempotency_key, ev.created_at, ev.id`
	// enabledEndpoints reads the apps' endpoints that may receive events.
	enabledEndpoints = `SELECT ` + endpointCols + ` FROM endpoints e
		WHERE e.app_id = ANY($1::text[]) AND e.enabled AND e.deleted_at IS NULL
		ORDER BY e.app_id, e.id`
	insertEvents = `INSERT INTO events (id, app_id, event_type, payload, idempotency_key, routing, created_at,
			channels, tags, payload_expires_at, ordering_key, version)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::timestamptz[],
			$8::text[], $9::text[], $10::timestamptz[], $11::text[], $12::text[])`
	insertDeliveries = `INSERT INTO deliveries (id, app_id, event_id, endpoint_id, event_type, status,
			attempt_count, next_attempt_at, last_error, lease_owner, lease_until, created_at, updated_at, ordering_key, ordering_seq)
		SELECT u.id, u.app_id, u.event_id, u.endpoint_id, u.event_type, 'pending', 0, u.at, '', u.owner, u.until, u.at, u.at, u.okey,
			CASE WHEN u.okey IS NULL THEN NULL ELSE nextval('deliveries_ordering_seq') END
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::timestamptz[], $9::text[])
			AS u(id, app_id, event_id, endpoint_id, event_type, at, owner, until, okey)`
	// addUsage adds deliveries to the usage counters, rows in key order
	// so that concurrent batches lock them in the same order.
	addUsage = `INSERT INTO usage (app_id, month, deliveries)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
		ON CONFLICT (app_id, month) DO UPDATE SET deliveries = usage.deliveries + excluded.deliveries`
)

// queueUsage adds the upsert of the counts u to b, if any, rows in key
// order.
func queueUsage(b *pgx.Batch, u store.UsageCounts) {
	if len(u) == 0 {
		return
	}
	keys := u.Keys()
	apps, months, counts := make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		apps[i], months[i], counts[i] = k.AppID, k.Month, u[k]
	}
	b.Queue(addUsage, apps, months, counts)
}

// EventsEnqueue implements store.Store: the whole batch is one transaction
// (group commit), so one WAL flush makes a thousand events durable. It
// costs a fixed number of round trips: the lookups (idempotency keys,
// apps, endpoints) go as one pgx.Batch, the quota locks and usage of apps
// with a quota as a second when there are any, routing and the quota
// checks run in Go, and the inserts (events, deliveries, usage,
// notification) go as a last batch.
func (db *DB) EventsEnqueue(ctx context.Context, p store.EnqueueParams) ([]store.EnqueueResult, error) {
	results := make([]store.EnqueueResult, len(p.Events))
	if len(p.Events) == 0 {
		return results, nil
	}
	route, newID := p.RouteFunc(), p.DeliveryIDFunc()
	since := ts(p.IdempotencySince)

	// What the lookups need: the apps, the months the events count in,
	// and the idempotency keys.
	var appIDs, keyApps, keyKeys, lockKeys []string
	var months []store.UsageKey
	seenApp := map[string]bool{}
	seenMonth := map[store.UsageKey]bool{}
	seenKey := map[[2]string]bool{}
	for _, ev := range p.Events {
		if !seenApp[ev.AppID] {
			seenApp[ev.AppID] = true
			appIDs = append(appIDs, ev.AppID)
		}
		if k := (store.UsageKey{AppID: ev.AppID, Month: store.UsageMonth(ev.CreatedAt)}); !seenMonth[k] {
			seenMonth[k] = true
			months = append(months, k)
		}
		if ev.IdempotencyKey != "" {
			k := [2]string{ev.AppID, ev.IdempotencyKey}
			if !seenKey[k] {
				seenKey[k] = true
				keyApps = append(keyApps, ev.AppID)
				keyKeys = append(keyKeys, ev.IdempotencyKey)
				lockKeys = append(lockKeys, ev.AppID+"\n"+ev.IdempotencyKey)
			}
		}
	}

	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// The earliest stored event per key; events of this batch join
		// in as they are stored.
		idem := map[[2]string]*herald.Event{}
		apps := map[string]bool{}
		endpoints := map[string][]*herald.Endpoint{}
		quotas := newQuotaLedger()

		var b pgx.Batch
		if len(keyKeys) > 0 {
			b.Queue(lockIdempotencyKeys, idempotencyLockClass, lockKeys)
			b.Queue(findIdempotent, keyApps, keyKeys, since).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					ev, err := scanEvent(rows)
					if err != nil {
						return err
					}
					idem[[2]string{ev.AppID, ev.IdempotencyKey}] = ev
				}
				return rows.Err()
			})
		}
		b.Queue(lockApps, appIDs).Query(quotas.scanApps(apps))
		b.Queue(enabledEndpoints, appIDs).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				ep, err := scanEndpoint(rows)
				if err != nil {
					return err
				}
				endpoints[ep.AppID] = append(endpoints[ep.AppID], ep)
			}
			return rows.Err()
		})
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("enqueue: lookups: %w", err)
		}
		// Only once the apps' quotas are known: a batch of apps without
		// one costs no round trip more.
		if err := quotas.lock(ctx, tx, months); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}

		var (
			evIDs, evApps, evTypes           []string
			evPayloads                       [][]byte
			evKeys, evRoutings               []*string
			evChannels, evTags               []*string
			evExpires                        []*time.Time
			evOrdering, dOrdering            []*string
			evVersions                       []*string
			evCreated                        []time.Time
			dIDs, dApps, dEvents, dEps, dTyp []string
			dAt                              []time.Time
			dOwners                          []*string
			dUntil                           []*time.Time
			unleased                         bool
		)
		var owner *string
		var until *time.Time
		if p.LeaseOwner != "" {
			owner, until = &p.LeaseOwner, tsPtr(&p.LeaseUntil)
		}

		for i, in := range p.Events {
			res := &results[i]
			// The stored event, as it reads back: microsecond UTC time.
			ev := *in
			ev.CreatedAt = ts(in.CreatedAt)

			var key [2]string
			if in.IdempotencyKey != "" {
				key = [2]string{in.AppID, in.IdempotencyKey}
				if prev := idem[key]; prev != nil {
					res.Event, res.Duplicate = prev, true
					continue
				}
			}
			if !apps[in.AppID] {
				res.Err = fmt.Errorf("app %q: %w", in.AppID, store.ErrNotFound)
				continue
			}

			targets, routing, refused, err := store.RouteEvent(route, quotas.Quotas, &ev, endpoints[in.AppID])
			if err != nil {
				return fmt.Errorf("enqueue: event %q: %w", ev.ID, err)
			}
			if refused != nil {
				res.Err = refused
				continue
			}
			evIDs = append(evIDs, ev.ID)
			evApps = append(evApps, ev.AppID)
			evTypes = append(evTypes, ev.EventType)
			evPayloads = append(evPayloads, blob(ev.Payload))
			evKeys = append(evKeys, nullString(ev.IdempotencyKey))
			evRoutings = append(evRoutings, routing)
			evOrdering = append(evOrdering, nullString(ev.OrderingKey))
			evVersions = append(evVersions, nullString(ev.Version))
			evCreated = append(evCreated, ev.CreatedAt)
			labels, err := store.EncodeEventLabels(&ev)
			if err != nil {
				return fmt.Errorf("enqueue: event %q: %w", ev.ID, err)
			}
			if ev.PayloadExpiresAt != nil {
				t := ts(*ev.PayloadExpiresAt)
				ev.PayloadExpiresAt = &t
			}
			evChannels = append(evChannels, labels.Channels)
			evTags = append(evTags, labels.Tags)
			evExpires = append(evExpires, ev.PayloadExpiresAt)
			res.Event = &ev
			// A later event of the batch with the same key is a
			// duplicate of this one, if it counts since IdempotencySince.
			if in.IdempotencyKey != "" && !ev.CreatedAt.Before(since) {
				idem[key] = &ev
			}

			if !p.LeasedOnly {
				res.Jobs = make([]*store.Job, 0, len(targets))
			}
			for _, t := range targets {
				j, err := p.NewJob(&ev, t, newID)
				if err != nil {
					return fmt.Errorf("enqueue: %w", err)
				}
				d := j.Delivery
				if j.Leased {
					dOwners, dUntil = append(dOwners, owner), append(dUntil, until)
				} else {
					dOwners, dUntil = append(dOwners, nil), append(dUntil, nil)
					unleased = true
				}
				dIDs = append(dIDs, d.ID)
				dApps = append(dApps, d.AppID)
				dEvents = append(dEvents, d.EventID)
				dEps = append(dEps, d.EndpointID)
				dTyp = append(dTyp, d.EventType)
				dOrdering = append(dOrdering, nullString(d.OrderingKey))
				dAt = append(dAt, ev.CreatedAt)
				res.Deliveries++
				if p.Keeps(j) {
					res.Jobs = append(res.Jobs, j)
				}
			}
		}
		if len(evIDs) == 0 {
			return nil
		}

		b = pgx.Batch{}
		b.Queue(insertEvents, evIDs, evApps, evTypes, evPayloads, evKeys, evRoutings, evCreated, evChannels, evTags, evExpires, evOrdering, evVersions)
		if len(dIDs) > 0 {
			b.Queue(insertDeliveries, dIDs, dApps, dEvents, dEps, dTyp, dAt, dOwners, dUntil, dOrdering)
		}
		queueUsage(&b, quotas.Counts)
		if unleased {
			b.Queue(notifyDue)
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			if isUnique(err) {
				err = fmt.Errorf("%w: %w", store.ErrConflict, err)
			}
			return fmt.Errorf("enqueue: insert: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// EventGet implements store.Store.
func (db *DB) EventGet(ctx context.Context, appID, id string) (*herald.Event, error) {
	ev, err := scanEvent(db.pool.QueryRow(ctx,
		`SELECT `+eventCols+` FROM events ev WHERE ev.app_id = $1 AND ev.id = $2`, appID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("event %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("event get: %w", err)
	}
	return ev, nil
}

// EventFind implements store.Store. The app's newest events are taken
// from events_app first (at most p.Scan), then their payloads read as
// json. PostgreSQL refuses to read a document with a \u0000 escape (a
// valid payload): the escape is read as U+FFFD, which no text compared
// here holds.
func (db *DB) EventFind(ctx context.Context, p store.EventFindParams) ([]*herald.Event, error) {
	var args params
	scan := `SELECT * FROM events WHERE app_id = ` + args.add(p.AppID)
	if !p.Since.IsZero() {
		scan += ` AND created_at >= ` + args.add(ts(p.Since))
	}
	scan += ` ORDER BY id DESC LIMIT ` + args.add(p.Scan)
	q := `SELECT ` + eventCols + ` FROM (` + scan + `) ev`
	if p.Path != nil {
		q += ` CROSS JOIN LATERAL (SELECT replace(convert_from(ev.payload, 'UTF8'), '\u0000', '\ufffd')::json AS doc) j`
	}
	q += ` WHERE ev.payload IS NOT NULL AND NOT ev.payload_expired
	AND (ev.payload_expires_at IS NULL OR ev.payload_expires_at > ` + args.add(ts(p.Now)) + `)`
	if p.Path == nil {
		q += ` AND ev.idempotency_key = ANY(` + args.add(p.Values) + `::text[])`
	} else {
		path := args.add(p.Path)
		q += ` AND json_typeof(j.doc #> ` + path + `::text[]) IN ('string', 'number')
	AND j.doc #>> ` + path + `::text[] = ANY(` + args.add(p.Values) + `::text[])`
	}
	q += ` ORDER BY ev.id DESC LIMIT ` + args.add(p.Limit)
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("event find: %w", err)
	}
	return collectEvents(rows, "event find")
}

// EventList implements store.Store.
func (db *DB) EventList(ctx context.Context, p store.EventListParams) ([]*herald.Event, error) {
	var args params
	q := `SELECT ` + eventCols + ` FROM events ev WHERE ev.app_id = ` + args.add(p.AppID)
	if p.EventType != "" {
		q += ` AND ev.event_type = ` + args.add(p.EventType)
	}
	if len(p.EventTypes) > 0 {
		q += ` AND ev.event_type = ANY(` + args.add(p.EventTypes) + `::text[])`
	}
	if p.IdempotencyKey != "" {
		q += ` AND ev.idempotency_key = ` + args.add(p.IdempotencyKey)
	}
	// Channels and tags are short JSON arrays: no index, the app's
	// events are walked newest first until the page is full.
	if p.Channel != "" {
		q += ` AND ev.channels::jsonb @> jsonb_build_array(` + args.add(p.Channel) + `::text)`
	}
	if p.Tag != "" {
		q += ` AND ev.tags::jsonb @> jsonb_build_array(` + args.add(p.Tag) + `::text)`
	}
	if !p.Since.IsZero() {
		q += ` AND ev.created_at >= ` + args.add(ts(p.Since))
	}
	if !p.Until.IsZero() {
		q += ` AND ev.created_at < ` + args.add(ts(p.Until))
	}
	if p.Cursor != "" {
		q += ` AND ev.id < ` + args.add(p.Cursor)
	}
	q += ` ORDER BY ev.id DESC LIMIT ` + args.add(store.ListLimit(p.Limit))

	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("event list: %w", err)
	}
	return collectEvents(rows, "event list")
}

// collectEvents reads the events of rows, closing them; op names the
// operation in errors.
func collectEvents(rows pgx.Rows, op string) ([]*herald.Event, error) {
	defer rows.Close()
	evs := []*herald.Event{}
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return evs, nil
}
