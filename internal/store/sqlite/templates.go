package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
		created, updated int64
		d                store.TemplateDoc
	)
	if err := s.Scan(&t.ID, &t.AppID, &t.Name, &doc, &created, &updated); err != nil {
		return nil, err
	}
	if err := store.FromJSONDoc(doc, &d); err != nil {
		return nil, fmt.Errorf("endpoint template %s: %w", t.ID, err)
	}
	t.Description, t.URL, t.RequestShape = d.Description, d.URL, d.RequestShape
	t.CreatedAt, t.UpdatedAt = fromMicro(created), fromMicro(updated)
	return &t, nil
}

// EndpointTemplateCreate implements store.Store.
func (db *DB) EndpointTemplateCreate(ctx context.Context, t *herald.EndpointTemplate) error {
	doc, err := templateDoc(t)
	if err != nil {
		return fmt.Errorf("endpoint template create: %w", err)
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO endpoint_templates (`+templateCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.AppID, t.Name, doc, micro(t.CreatedAt), micro(t.UpdatedAt))
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
	t, err := scanTemplate(db.r.QueryRowContext(ctx, `SELECT `+templateCols+` FROM endpoint_templates WHERE app_id = ? AND id = ?`, appID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("endpoint template %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint template get: %w", err)
	}
	return t, nil
}

// EndpointTemplateList implements store.Store.
func (db *DB) EndpointTemplateList(ctx context.Context, appID string, p store.ListParams) ([]*herald.EndpointTemplate, error) {
	q := `SELECT ` + templateCols + ` FROM endpoint_templates WHERE app_id = ?`
	args := []any{appID}
	if p.Cursor != "" {
		q += ` AND id < ?`
		args = append(args, p.Cursor)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, store.ListLimit(p.Limit))
	rows, err := db.r.QueryContext(ctx, q, args...)
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
	res, err := db.w.ExecContext(ctx, `UPDATE endpoint_templates SET name = ?, doc = ?, updated_at = ? WHERE app_id = ? AND id = ?`,
		t.Name, doc, micro(t.UpdatedAt), t.AppID, t.ID)
	if err != nil {
		return fmt.Errorf("endpoint template update: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("endpoint template %q: %w", t.ID, store.ErrNotFound)
	}
	return nil
}

// EndpointTemplateDelete implements store.Store.
func (db *DB) EndpointTemplateDelete(ctx context.Context, appID, id string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM endpoint_templates WHERE app_id = ? AND id = ?`, appID, id)
	if err != nil {
		return fmt.Errorf("endpoint template delete: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("endpoint template %q: %w", id, store.ErrNotFound)
	}
	return nil
}
