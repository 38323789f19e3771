// Package e2e holds the end-to-end tests of broker endpoints: a whole
// Herald (heraldtest: the API, the engine, the outbound layer, a SQLite
// file) delivering to real brokers on 127.0.0.1, or to the vendors' own
// in-process fakes where none runs here (kfake, pstest, goaws), read back
// with the vendors' clients. It has no code of its own.
package e2e
