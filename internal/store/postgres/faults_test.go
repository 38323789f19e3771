package postgres

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/store"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err                         error
		unavailable, full, readOnly bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true, false, false}, // admin_shutdown
		{&pgconn.PgError{Code: "57P03"}, true, false, false}, // cannot_connect_now
		{&pgconn.PgError{Code: "08006"}, true, false, false}, // connection_failure
		{&pgconn.PgError{Code: "53300"}, true, false, false}, // too_many_connections
		{&pgconn.PgError{Code: "53100"}, true, true, true},   // disk_full
		{&pgconn.PgError{Code: "25006"}, true, false, true},  // read_only_sql_transaction
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true, false, false},
		{errors.New("begin: conn closed"), true, false, false},
		{&pgconn.PgError{Code: "23505"}, false, false, false}, // unique_violation: the caller's
		{&pgconn.PgError{Code: "42601"}, false, false, false}, // syntax_error: ours
		{store.ErrNotFound, false, false, false},
	} {
		got := Classify(c.err)
		if errors.Is(got, store.ErrUnavailable) != c.unavailable || errors.Is(got, store.ErrFull) != c.full ||
			errors.Is(got, store.ErrNotWritable) != c.readOnly {
			t.Errorf("%v: classified %v", c.err, got)
		}
	}
}
