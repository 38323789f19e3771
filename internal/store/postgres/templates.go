package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

const templateCols = `id, app_id, name, doc, created_at, updated_at`

func templateDoc(t *herald.EndpointTemplate) (string, error) {
	return store.JSONDoc(store.TemplateDoc{Description: t.Description, URL: t.URL, RequestShape: t.RequestShape})
}

func scanTemplate(s interface{ Scan(...any) error }) (*herald.EndpointTemplate, error) {
	var (
		t                herald.EndpointTemplate
		doc              string
		created, updated time.Time
		d                store.TemplateDoc
	)
	if err := s.Scan(&t.ID, &t.AppID, &t.Name, &doc, &created, &updated); err != nil {
		return nil, err
	}
	if err := store.FromJSONDoc(doc, &d); err != nil {
		return nil, fmt.Errorf("endpoint template %s: %w", t.ID, err)
	}
	t.Description, t.URL, t.RequestShape = d.Description, d.URL, d.RequestShape
	t.CreatedAt, t.UpdatedAt = created.UTC(), updated.UTC()
	return &t, nil
}

// EndpointTemplateCreate implements store.Store.
func (db *DB) EndpointTemplateCreate(ctx context.Context, t *herald.EndpointTemplate) error {
	doc, err := templateDoc(t)
	if err != nil {
		return fmt.Errorf("endpoint template create: %w", err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO endpoint_templates (`+templateCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.AppID, t.Name, doc, ts(t.CreatedAt), ts(t.UpdatedAt))
	if isUnique(err) {
		return fmt.Errorf("endpoint template %q: %w", t.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("endpoint template create: %w", err)
	}
	return nil
}

// EndpointTemplateGet implements store.Store.
func (db *DB) EndpointTemplateGet(ctx context.Context, appID, id string) (*herald.EndpointTemplate, error) {
	t, err := scanTemplate(db.pool.QueryRow(ctx, `SELECT `+templateCols+` FROM endpoint_templates WHERE app_id = $1 AND id = $2`, appID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("endpoint template %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint template get: %w", err)
	}
	return t, nil
}

// EndpointTemplateList implements store.Store.
func (db *DB) EndpointTemplateList(ctx context.Context, appID string, p store.ListParams) ([]*herald.EndpointTemplate, error) {
	var args params
	q := `SELECT ` + templateCols + ` FROM endpoint_templates WHERE app_id = ` + args.add(appID)
	if p.Cursor != "" {
		q += ` AND id < ` + args.add(p.Cursor)
	}
	q += ` ORDER BY id DESC LIMIT ` + args.add(store.ListLimit(p.Limit))
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("endpoint template list: %w", err)
	}
	defer rows.Close()
	out := []*herald.EndpointTemplate{}
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("endpoint template list: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("endpoint template list: %w", err)
	}
	return out, nil
}

// EndpointTemplateUpdate implements store.Store.
func (db *DB) EndpointTemplateUpdate(ctx context.Context, t *herald.EndpointTemplate) error {
	doc, err := templateDoc(t)
	if err != nil {
		return fmt.Errorf("endpoint template update: %w", err)
	}
	res, err := db.pool.Exec(ctx, `UPDATE endpoint_templates SET name = $1, doc = $2, updated_at = $3 WHERE app_id = $4 AND id = $5`,
		t.Name, doc, ts(t.UpdatedAt), t.AppID, t.ID)
	if err != nil {
		return fmt.Errorf("endpoint template update: %w", err)
	}
	if res.RowsAffected() == 0 {
		return fmt.Errorf("endpoint template %q: %w", t.ID, store.ErrNotFound)
	}
	return nil
}

// EndpointTemplateDelete implements store.Store.
func (db *DB) EndpointTemplateDelete(ctx context.Context, appID, id string) error {
	res, err := db.pool.Exec(ctx, `DELETE FROM endpoint_templates WHERE app_id = $1 AND id = $2`, appID, id)
	if err != nil {
		return fmt.Errorf("endpoint template delete: %w", err)
	}
	if res.RowsAffected() == 0 {
		return fmt.Errorf("endpoint template %q: %w", id, store.ErrNotFound)
	}
	return nil
}
