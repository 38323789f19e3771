package herald

import "encoding/json"

// RawJSON is a JSON document kept as bytes; empty means absent and encodes
// as null.
type RawJSON []byte

// MarshalJSON writes the document as is, or null when empty.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON keeps a copy of the document; null becomes empty.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = nil
		return nil
	}
	*r = append((*r)[:0], b...)
	return nil
}

var _ json.Marshaler = RawJSON(nil)
