package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Statements of the quota checks.
const (
	// lockApps finds the apps with their settings and key-share locks
	// them until commit: a concurrent AppDelete waits, and then removes
	// what this transaction stored.
	lockApps = `SELECT id, settings FROM apps WHERE id = ANY($1::text[]) ORDER BY id FOR KEY SHARE`
	// lockQuotas takes the quota lock of each app, in a fixed order.
	lockQuotas = `SELECT pg_advisory_xact_lock($1::int, h)
		FROM (SELECT DISTINCT hashtext(a) AS h FROM unnest($2::text[]) AS a ORDER BY 1) AS apps`
	// usageOf reads the counters of the given apps and months.
	usageOf = `SELECT u.app_id, u.month, u.deliveries FROM usage u
		JOIN unnest($1::text[], $2::text[]) AS k(app_id, month) ON u.app_id = k.app_id AND u.month = k.month`
)

// quotaLedger is what a transaction knows of the quotas of the apps it
// writes for: their quotas, and the usage it read under their locks.
type quotaLedger struct {
	*store.Quotas
	used map[store.UsageKey]int64
}

func newQuotaLedger() *quotaLedger {
	l := &quotaLedger{used: map[store.UsageKey]int64{}}
	l.Quotas = store.NewQuotas(func(k store.UsageKey) (int64, error) {
		n, ok := l.used[k]
		if !ok {
			// lock read every month the transaction counts in.
			return 0, fmt.Errorf("usage of %s in %s was not read under its lock", k.AppID, k.Month)
		}
		return n, nil
	})
	return l
}

// scanApps reads the rows of lockApps: which apps exist, and their quotas.
func (l *quotaLedger) scanApps(exists map[string]bool) func(rows pgx.Rows) error {
	return func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				id, doc string
				s       herald.AppSettings
			)
			if err := rows.Scan(&id, &doc); err != nil {
				return err
			}
			if err := store.FromJSONDoc(doc, &s); err != nil {
				return fmt.Errorf("app %s: settings: %w", id, err)
			}
			exists[id] = true
			l.SetQuota(id, s.MonthlyDeliveryQuota)
		}
		return rows.Err()
	}
}

// lock takes the quota locks of the apps with a quota among keys and then
// reads their usage of those months: another transaction counting for one
// of them either committed before (and its count is read) or waits for
// this one's commit, so no two spend the same remainder. Apps without a
// quota take no lock: their counts only add up.
func (l *quotaLedger) lock(ctx context.Context, tx pgx.Tx, keys []store.UsageKey) error {
	var apps, months []string
	for _, k := range keys {
		if l.Limited(k.AppID) {
			apps, months = append(apps, k.AppID), append(months, k.Month)
			l.used[k] = 0
		}
	}
	if len(apps) == 0 {
		return nil
	}
	var b pgx.Batch
	b.Queue(lockQuotas, quotaLockClass, apps)
	b.Queue(usageOf, apps, months).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				k store.UsageKey
				n int64
			)
			if err := rows.Scan(&k.AppID, &k.Month, &n); err != nil {
				return err
			}
			l.used[k] = n
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	return nil
}

// lockFor reads the apps' quotas (key-share locking the apps) and takes
// the quota locks of the months given: the steps of a write outside
// EventsEnqueue, which reads its apps with its other lookups. It returns
// which apps exist.
func (l *quotaLedger) lockFor(ctx context.Context, tx pgx.Tx, keys []store.UsageKey) (map[string]bool, error) {
	var ids []string
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[k.AppID] {
			seen[k.AppID] = true
			ids = append(ids, k.AppID)
		}
	}
	exists := map[string]bool{}
	rows, err := tx.Query(ctx, lockApps, ids)
	if err != nil {
		return nil, fmt.Errorf("quota: apps: %w", err)
	}
	err = l.scanApps(exists)(rows)
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("quota: apps: %w", err)
	}
	return exists, l.lock(ctx, tx, keys)
}

// UsageCharge implements store.Store.
func (db *DB) UsageCharge(ctx context.Context, appID string, n int, at time.Time) error {
	k := store.UsageKey{AppID: appID, Month: store.UsageMonth(at)}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		l := newQuotaLedger()
		exists, err := l.lockFor(ctx, tx, []store.UsageKey{k})
		if err != nil {
			return fmt.Errorf("usage charge: %w", err)
		}
		if !exists[appID] {
			return fmt.Errorf("app %q: %w", appID, store.ErrNotFound)
		}
		if err := l.Take(k, int64(n)); err != nil {
			return err
		}
		if len(l.Counts) == 0 {
			return nil
		}
		var b pgx.Batch
		queueUsage(&b, l.Counts)
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("usage charge: %w", err)
		}
		return nil
	})
}
