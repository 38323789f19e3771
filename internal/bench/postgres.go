package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// createDatabase creates a database of its own for one run on the server
// of base, so that runs never see each other's rows; drop removes it.
func createDatabase(ctx context.Context, base string) (dbURL string, drop func(), err error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to --database-url: %w", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "herald_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, _ := url.Parse(base)
	u.Path = "/" + name
	drop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// postgres runs throughput on one node, then on two nodes sharing one
// database, each on a fresh database.
func (r *runner) postgres(sc *Scenario) error {
	for _, n := range []int{1, 2} {
		row, err := r.postgresCase(n)
		if err != nil && isStartError(err) {
			sc.Skipped = "the server refused --database-url: " + lastLine(err.Error())
			sc.Rows = nil
			return nil
		}
		if row != nil {
			sc.Rows = append(sc.Rows, *row)
		}
		if err != nil {
			return err
		}
	}
	sc.Notes = append(sc.Notes, "with two nodes, clients alternate between them; server cpu is the sum, rss the larger peak")
	return nil
}

func (r *runner) postgresCase(n int) (*Row, error) {
	dbURL, drop, err := createDatabase(r.ctx, r.cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer drop()
	nodes, err := r.startNodes(n, serverOptions{databaseURL: dbURL})
	if err != nil {
		return nil, err
	}
	defer stopNodes(nodes)
	s := r.newStream("postgres", r.sz.events, 1)
	defer r.rc.remove(s)
	name := "1 node"
	if n > 1 {
		name = fmt.Sprintf("%d nodes", n)
	}
	row, err := r.burstCase(Postgres, name, nodes, s, r.sz.events)
	return &row, err
}

// lastLine picks the message out of a log: its last non-empty line.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
