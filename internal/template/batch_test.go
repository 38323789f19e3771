package template

import (
	"testing"
)

// TestBatchNames: a batch body template names its batch, the array of
// elements written byte for byte; elsewhere batch.* stays a payload path,
// and delivery.id is the delivery everywhere.
func TestBatchNames(t *testing.T) {
	events := []byte(`[{"a":"<b>","n":1.50},{"a":2}]`)
	d := &Data{
		Payload:  map[string]any{"batch": map[string]any{"id": "payload's"}},
		Delivery: DeliveryInfo{ID: "dlv_1"},
		Batch:    BatchInfo{ID: "bat_1", Size: 2, Events: events},
		App:      AppInfo{UID: "acme"},
	}
	src := []byte(`{"records":"{{batch.events}}","n":"{{batch.size}}","id":"{{batch.id}}","text":"{{batch.size}} of {{app.uid}}"}`)
	bt, err := ParseJSON(src, Options{Batch: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := bt.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"records":[{"a":"<b>","n":1.50},{"a":2}],"n":2,"id":"bat_1","text":"2 of acme"}`; string(got) != want {
		t.Fatalf("batch template gives %s, want %s", got, want)
	}
	plain, err := ParseJSON([]byte(`{"b":"{{batch.id}}","d":"{{delivery.id}}","p":"{{payload.delivery.id}}"}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err = plain.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"b":"payload's","d":"dlv_1","p":null}`; string(got) != want {
		t.Fatalf("event template gives %s, want %s", got, want)
	}
	hash, err := ParseJSON([]byte(`{"r":"#{batch.events}"}`), Options{Batch: true, Syntax: Hash})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := hash.Render(d); string(got) != `{"r":`+string(events)+`}` {
		t.Fatalf("hash syntax gives %s", got)
	}
}
