package pfaimport

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for PostgreSQL sources
)

// Source is the Postfix Admin 3.x database, read through database/sql.
type Source struct {
	db     *sql.DB
	prefix string // $CONF['database_prefix']
}

// OpenSource opens a Postfix Admin database: dsn is a PostgreSQL URL
// (postgres://user:pass@host/db, any libpq parameter such as search_path
// allowed) or a MySQL/MariaDB one, either as a URL
// (mysql://user:pass@host:port/db, ?socket=/path for a Unix socket) or as
// go-sql-driver's own form after "mysql:" (mysql:user:pass@unix(/path)/db).
// prefix is Postfix Admin's table prefix, usually "".
func OpenSource(ctx context.Context, dsn, prefix string) (*Source, error) {
	driver, name, err := driverDSN(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, name)
	if err != nil {
		return nil, fmt.Errorf("pfaimport: open %s source: %w", driver, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("pfaimport: connect to the Postfix Admin database: %w", err)
	}
	return &Source{db: db, prefix: prefix}, nil
}

// Close closes the connection pool.
func (s *Source) Close() error { return s.db.Close() }

// driverDSN picks the database/sql driver and its data source name.
func driverDSN(dsn string) (driver, name string, err error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "pgx", dsn, nil
	case strings.HasPrefix(dsn, "mysql://"), strings.HasPrefix(dsn, "mariadb://"):
		u, err := url.Parse(dsn)
		if err != nil {
			return "", "", fmt.Errorf("pfaimport: --from: %w", err)
		}
		c := mysql.NewConfig()
		c.User = u.User.Username()
		c.Passwd, _ = u.User.Password()
		c.DBName = strings.TrimPrefix(u.Path, "/")
		c.Net, c.Addr = "tcp", u.Host
		if u.Port() == "" {
			c.Addr = u.Host + ":3306"
		}
		if sock := u.Query().Get("socket"); sock != "" {
			c.Net, c.Addr = "unix", sock
		}
		return "mysql", c.FormatDSN(), nil
	case strings.HasPrefix(dsn, "mysql:"):
		c, err := mysql.ParseDSN(strings.TrimPrefix(dsn, "mysql:"))
		if err != nil {
			return "", "", fmt.Errorf("pfaimport: --from: %w", err)
		}
		return "mysql", c.FormatDSN(), nil
	}
	return "", "", fmt.Errorf("pfaimport: --from must start with postgres://, mysql:// or mysql:")
}

// The rows of Postfix Admin 3.x's tables this import reads.
type (
	pfaDomain struct {
		Name, Description, Transport string
		Aliases, Mailboxes           int64 // 0 unlimited, -1 disabled
		MaxQuota, Quota              int64 // MB (× quota multiplier)
		BackupMX, Active             bool
	}
	pfaMailbox struct {
		Username, Password, Name, Maildir, LocalPart, Domain string
		Quota                                                int64 // bytes, 0 unlimited
		Active                                               bool
	}
	pfaAlias struct {
		Address, Goto, Domain string
		Active                bool
	}
	pfaAliasDomain struct {
		Alias, Target string
		Active        bool
	}
	pfaAdmin struct {
		Username, Password string
		Superadmin, Active bool
	}
	pfaDomainAdmin struct {
		Username, Domain string
		Active           bool
	}
	pfaVacation struct {
		Email, Subject, Body string
		From, Until          *time.Time
		Interval             int64
		Active               bool
	}
	pfaQuota struct {
		Username        string
		Bytes, Messages int64
	}
	pfaFetchmail struct {
		Mailbox, Server, User string
	}
)

// query runs one SELECT over a table of Postfix Admin, giving each row's
// values (as the driver returns them) to scan.
func (s *Source) query(ctx context.Context, table, cols string, scan func(v []any) error) error {
	rows, err := s.db.QueryContext(ctx, "SELECT "+cols+" FROM "+s.prefix+table)
	if err != nil {
		return fmt.Errorf("pfaimport: read %s%s: %w", s.prefix, table, err)
	}
	defer rows.Close()
	n := len(strings.Split(cols, ","))
	for rows.Next() {
		v := make([]any, n)
		p := make([]any, n)
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			return fmt.Errorf("pfaimport: read %s%s: %w", s.prefix, table, err)
		}
		if err := scan(v); err != nil {
			return fmt.Errorf("pfaimport: read %s%s: %w", s.prefix, table, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pfaimport: read %s%s: %w", s.prefix, table, err)
	}
	return nil
}

// asString reads a text column (NULL is "").
func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// asInt reads an integer column, as the MySQL driver (int64 or text) or
// pgx gives it; NULL or garbage is 0.
func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case float64:
		return int64(x)
	case bool:
		if x {
			return 1
		}
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(asString(v)), 10, 64)
	return n
}

// asBool reads a flag: PostgreSQL's boolean, MySQL's tinyint(1), or the
// text forms either may give.
func asBool(v any) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	switch strings.ToLower(strings.TrimSpace(asString(v))) {
	case "1", "t", "true", "y", "yes":
		return true
	}
	return false
}

// asTime reads a timestamp; NULL and MySQL's zero date are nil.
func asTime(v any) *time.Time {
	if t, ok := v.(time.Time); ok {
		return &t
	}
	s := asString(v)
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05Z07:00", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil && t.Year() > 1 {
			return &t
		}
	}
	return nil
}

func (s *Source) domains(ctx context.Context) ([]pfaDomain, error) {
	var out []pfaDomain
	err := s.query(ctx, "domain", "domain, description, aliases, mailboxes, maxquota, quota, transport, backupmx, active",
		func(v []any) error {
			out = append(out, pfaDomain{Name: asString(v[0]), Description: asString(v[1]), Aliases: asInt(v[2]),
				Mailboxes: asInt(v[3]), MaxQuota: asInt(v[4]), Quota: asInt(v[5]), Transport: asString(v[6]),
				BackupMX: asBool(v[7]), Active: asBool(v[8])})
			return nil
		})
	return out, err
}

func (s *Source) mailboxes(ctx context.Context) ([]pfaMailbox, error) {
	var out []pfaMailbox
	err := s.query(ctx, "mailbox", "username, password, name, maildir, quota, local_part, domain, active",
		func(v []any) error {
			out = append(out, pfaMailbox{Username: asString(v[0]), Password: asString(v[1]), Name: asString(v[2]),
				Maildir: asString(v[3]), Quota: asInt(v[4]), LocalPart: asString(v[5]), Domain: asString(v[6]),
				Active: asBool(v[7])})
			return nil
		})
	return out, err
}

func (s *Source) aliases(ctx context.Context) ([]pfaAlias, error) {
	var out []pfaAlias
	err := s.query(ctx, "alias", "address, goto, domain, active", func(v []any) error {
		out = append(out, pfaAlias{Address: asString(v[0]), Goto: asString(v[1]), Domain: asString(v[2]), Active: asBool(v[3])})
		return nil
	})
	return out, err
}

func (s *Source) aliasDomains(ctx context.Context) ([]pfaAliasDomain, error) {
	var out []pfaAliasDomain
	err := s.query(ctx, "alias_domain", "alias_domain, target_domain, active", func(v []any) error {
		out = append(out, pfaAliasDomain{Alias: asString(v[0]), Target: asString(v[1]), Active: asBool(v[2])})
		return nil
	})
	return out, err
}

func (s *Source) admins(ctx context.Context) ([]pfaAdmin, error) {
	var out []pfaAdmin
	err := s.query(ctx, "admin", "username, password, superadmin, active", func(v []any) error {
		out = append(out, pfaAdmin{Username: asString(v[0]), Password: asString(v[1]), Superadmin: asBool(v[2]),
			Active: asBool(v[3])})
		return nil
	})
	return out, err
}

func (s *Source) domainAdmins(ctx context.Context) ([]pfaDomainAdmin, error) {
	var out []pfaDomainAdmin
	err := s.query(ctx, "domain_admins", "username, domain, active", func(v []any) error {
		out = append(out, pfaDomainAdmin{Username: asString(v[0]), Domain: asString(v[1]), Active: asBool(v[2])})
		return nil
	})
	return out, err
}

func (s *Source) vacations(ctx context.Context) ([]pfaVacation, error) {
	var out []pfaVacation
	err := s.query(ctx, "vacation", "email, subject, body, active, activefrom, activeuntil, interval_time",
		func(v []any) error {
			out = append(out, pfaVacation{Email: asString(v[0]), Subject: asString(v[1]), Body: asString(v[2]),
				Active: asBool(v[3]), From: asTime(v[4]), Until: asTime(v[5]), Interval: asInt(v[6])})
			return nil
		})
	return out, err
}

func (s *Source) quota2(ctx context.Context) ([]pfaQuota, error) {
	var out []pfaQuota
	err := s.query(ctx, "quota2", "username, bytes, messages", func(v []any) error {
		out = append(out, pfaQuota{Username: asString(v[0]), Bytes: asInt(v[1]), Messages: asInt(v[2])})
		return nil
	})
	return out, err
}

func (s *Source) fetchmail(ctx context.Context) ([]pfaFetchmail, error) {
	var out []pfaFetchmail
	err := s.query(ctx, "fetchmail", "mailbox, src_server, src_user", func(v []any) error {
		out = append(out, pfaFetchmail{Mailbox: asString(v[0]), Server: asString(v[1]), User: asString(v[2])})
		return nil
	})
	return out, err
}
