// Command ferretdb runs FerretDB v1 as the MongoDB-wire store of the local Alliance stack, on its
// PostgreSQL backend (or SQLite with -handler sqlite). It embeds the `ferretdb` package rather than
// using `go install .../cmd/ferretdb`, whose binary panics at start when built outside FerretDB's own
// tree (missing version file).
//
// deploy/local/stack.py builds it with the patches in patches/ applied to FerretDB (see the README:
// unpatched, one login's requests could hold its whole PostgreSQL pool and wedge the store).
//
// Index bridge. FerretDB v1 creates a B-tree index on `(_jsonb -> 'field')` for each MongoDB index,
// but pushes an equality filter down as `(_jsonb -> 'field') @> '<value>'`, which a B-tree cannot
// answer: every lookup, `_id` included, is a sequential scan (measured: `find_one({_id})` 2.7 ms at
// 1,000 documents, 35 ms at 20,000). With -index-bridge (the default on PostgreSQL) this process adds,
// for every single-field FerretDB index, a GIN `jsonb_path_ops` index on the same expression, which
// PostgreSQL uses for exactly that containment filter (measured at 20,000 documents: 0.7 ms). It looks
// for new FerretDB indexes once a second; MongoDB users need none of this.
//
// Logins. FerretDB v1 hands each client's login (SASL PLAIN) to PostgreSQL, which checks it; the
// -postgresql-url names the role used for a client that gave none (the stack names one that may not
// log in). The index bridge logs in as -bridge-user with the password read from -bridge-password-file,
// so no password is on a command line or in the environment.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"net/url"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/jackc/pgx/v5"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "postgresql", "backend: postgresql or sqlite")
	postgresURL := flag.String("postgresql-url", "postgres://postgres@127.0.0.1:5433/ferretdb", "PostgreSQL URL")
	dataDir := flag.String("data", "data", "directory holding the SQLite database files (sqlite handler)")
	bridge := flag.Bool("index-bridge", true, "add GIN indexes that FerretDB's pushdown can use (postgresql)")
	bridgeUser := flag.String("bridge-user", "", "PostgreSQL role of the index bridge (default: the URL's)")
	bridgePasswordFile := flag.String("bridge-password-file", "", "file holding that role's password")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatalf("bad log level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	config := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
		Handler:  *handler,
	}
	switch *handler {
	case "postgresql":
		config.PostgreSQLURL = *postgresURL
	case "sqlite":
		if err := os.MkdirAll(*dataDir, 0o755); err != nil {
			log.Fatalf("cannot create data directory: %v", err)
		}
		abs, err := filepath.Abs(*dataDir)
		if err != nil {
			log.Fatalf("bad data directory: %v", err)
		}
		config.SQLiteURL = "file:" + abs + "/"
	default:
		log.Fatalf("unknown handler %q", *handler)
	}

	f, err := ferretdb.New(config)
	if err != nil {
		log.Fatalf("cannot start FerretDB: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *handler == "postgresql" && *bridge {
		bridgeURL, err := withLogin(*postgresURL, *bridgeUser, *bridgePasswordFile)
		if err != nil {
			log.Fatalf("index bridge: %v", err)
		}
		go bridgeIndexes(ctx, bridgeURL, logger)
	}

	logger.Warn("FerretDB listening", "uri", f.MongoDBURI(), "handler", *handler)
	if err := f.Run(ctx); err != nil {
		log.Fatalf("FerretDB stopped: %v", err)
	}
}

// withLogin returns the URL with user and the password read from passwordFile (either may be empty),
// without FerretDB's pool settings (pool_*), which a single pgx connection would send to the server.
func withLogin(raw, user, passwordFile string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("bad PostgreSQL URL: %w", err)
	}
	query := u.Query()
	for key := range query {
		if strings.HasPrefix(key, "pool_") {
			query.Del(key)
		}
	}
	u.RawQuery = query.Encode()
	if user == "" {
		user = u.User.Username()
	}
	if passwordFile == "" {
		u.User = url.User(user)
		return u.String(), nil
	}
	secret, err := os.ReadFile(passwordFile)
	if err != nil {
		return "", fmt.Errorf("cannot read the password file: %w", err)
	}
	u.User = url.UserPassword(user, strings.TrimRight(string(secret), "\r\n"))
	return u.String(), nil
}

// A FerretDB single-field index: `CREATE [UNIQUE] INDEX name ON schema.table USING btree (((_jsonb -> 'field'::text)))`.
var singleField = regexp.MustCompile(`USING btree \(\(\(_jsonb -> '([^']+)'::text\)\)\)$`)

// Expression B-tree indexes without their GIN twin. Read from pg_index / pg_class directly, not the
// pg_indexes view: the view renders every index's definition and its NOT EXISTS has no index to use,
// which with many databases (hundreds of schemas) kept a core busy; here the twin is found through
// pg_class's (relname, relnamespace) index and only the indexes without one are rendered.
//
// A non-unique B-tree is then dropped: FerretDB's filters never use it (they are `@>`), and it holds
// the whole value of the field as one entry, which PostgreSQL refuses above 2704 bytes: a record with
// a long list (a person's index keys) could not be stored at all. Unique ones (`_id`) are kept.
const missing = `
SELECT n.nspname, t.relname, i.relname, pg_get_indexdef(i.oid), x.indisunique
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am a ON a.oid = i.relam
WHERE a.amname = 'btree' AND x.indexprs IS NOT NULL AND x.indnatts = 1
  AND (NOT x.indisunique OR NOT EXISTS (
    SELECT 1 FROM pg_class g
    WHERE g.relnamespace = i.relnamespace AND g.relname = 'g_' || left(i.relname, 61)))`

func bridgeIndexes(ctx context.Context, url string, logger *slog.Logger) {
	var conn *pgx.Conn
	var lastSeen int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		if conn == nil || conn.IsClosed() {
			c, err := pgx.Connect(ctx, url)
			if err != nil {
				logger.Warn("index bridge: cannot connect", "error", err)
				continue
			}
			conn = c
		}
		// New indexes get new OIDs: while the highest OID is unchanged there is nothing to look at,
		// and this one-row index lookup keeps the idle cost flat however many tables exist.
		var top int64
		if err := conn.QueryRow(ctx, "SELECT max(oid)::bigint FROM pg_class").Scan(&top); err != nil {
			logger.Warn("index bridge: cannot read the catalog", "error", err)
			_ = conn.Close(ctx)
			conn = nil
			continue
		}
		if top == lastSeen {
			continue
		}
		if err := bridgeOnce(ctx, conn, logger); err != nil {
			logger.Warn("index bridge pass failed", "error", err)
			_ = conn.Close(ctx)
			conn = nil
			continue
		}
		lastSeen = top
	}
}

func bridgeOnce(ctx context.Context, conn *pgx.Conn, logger *slog.Logger) error {
	rows, err := conn.Query(ctx, missing)
	if err != nil {
		return err
	}
	type todo struct {
		schema, table, index, field string
		unique                      bool
	}
	var work []todo
	for rows.Next() {
		var schema, table, index, def string
		var unique bool
		if err := rows.Scan(&schema, &table, &index, &def, &unique); err != nil {
			rows.Close()
			return err
		}
		if m := singleField.FindStringSubmatch(def); m != nil {
			work = append(work, todo{schema, table, index, m[1], unique})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, w := range work {
		name := "g_" + w.index
		if len(name) > 63 {
			name = name[:63]
		}
		sql := fmt.Sprintf(
			`CREATE INDEX IF NOT EXISTS %s ON %s.%s USING gin ((_jsonb -> %s) jsonb_path_ops)`,
			pgx.Identifier{name}.Sanitize(),
			pgx.Identifier{w.schema}.Sanitize(),
			pgx.Identifier{w.table}.Sanitize(),
			quoteLiteral(w.field),
		)
		if _, err := conn.Exec(ctx, sql); err != nil {
			// A table dropped meanwhile (a test database removed) is not an error worth stopping for.
			logger.Info("index bridge: index not created", "table", w.table, "field", w.field, "error", err)
			continue
		}
		logger.Info("index bridge: GIN index ready", "schema", w.schema, "table", w.table, "field", w.field)
		if w.unique {
			continue
		}
		drop := fmt.Sprintf(`DROP INDEX IF EXISTS %s.%s`, pgx.Identifier{w.schema}.Sanitize(), pgx.Identifier{w.index}.Sanitize())
		if _, err := conn.Exec(ctx, drop); err != nil {
			logger.Info("index bridge: B-tree not dropped", "table", w.table, "field", w.field, "error", err)
		}
	}
	return nil
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
