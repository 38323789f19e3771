package docs_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestCatalogs imports every catalog shipped in examples/catalogs; the
// import refuses a sample that does not match its schema.
func TestCatalogs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "catalogs", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("%d catalogs shipped, want one per product (5)", len(files))
	}
	s := heraldtest.Start(t, heraldtest.Options{})
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cat struct {
			EventTypes []json.RawMessage `json:"event_types"`
		}
		if err := json.Unmarshal(b, &cat); err != nil || len(cat.EventTypes) == 0 {
			t.Fatalf("%s: %v", f, err)
		}
		var out struct{ Created []string }
		var raw json.RawMessage
		if got := s.Do("POST", "/v1/event-types/import", json.RawMessage(b), &raw); got != 200 {
			t.Fatalf("%s: import answered %d: %s", filepath.Base(f), got, raw)
		}
		_ = json.Unmarshal(raw, &out)
		if len(out.Created) != len(cat.EventTypes) {
			t.Fatalf("%s: created %d of %d", filepath.Base(f), len(out.Created), len(cat.EventTypes))
		}
	}
}
