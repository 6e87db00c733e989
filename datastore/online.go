package datastore

import (
	"errors"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// OnlineForms are the forms to run a schema statement in, most online
// first, each tried when the one before it is refused as not possible
// for that statement; the last is the statement as written. On
// MySQL/MariaDB an ALTER TABLE that names no ALGORITHM or LOCK is tried
// with ALGORITHM=INSTANT (metadata only), then ALGORITHM=INPLACE,
// LOCK=NONE (rebuilt while reads and writes go on), and only then as
// written, which may copy the table under a write lock. PostgreSQL and
// SQLite have no such clauses: the statement as written.
func (s *Store) OnlineForms(stmt string) []string { return s.d.onlineForms(stmt) }

// IsAlgorithmRefused reports that the engine refused an online form of a
// statement (MySQL/MariaDB errors 1845 and 1846: "ALGORITHM=INSTANT is
// not supported. Reason: …"), so the next form is to be tried.
func (s *Store) IsAlgorithmRefused(err error) bool { return err != nil && s.d.algorithmRefused(err) }

var (
	alterTable      = regexp.MustCompile(`(?is)^\s*ALTER\s+(ONLINE\s+|IGNORE\s+)*TABLE\s`)
	algorithmOrLock = regexp.MustCompile(`(?i)\b(ALGORITHM|LOCK)\s*=`)
	// Clauses after which no ALGORITHM may follow with a comma.
	partitioning = regexp.MustCompile(`(?i)\b(PARTITION|REMOVE\s+PARTITIONING|ORDER\s+BY)\b`)
)

func (mysqlDialect) onlineForms(stmt string) []string {
	body := strings.TrimRight(strings.TrimSpace(stmt), "; \t\r\n")
	if !alterTable.MatchString(body) || algorithmOrLock.MatchString(body) || partitioning.MatchString(body) || strings.Contains(body, "--") || strings.Contains(body, "/*") {
		return []string{stmt}
	}
	return []string{body + ", ALGORITHM=INSTANT", body + ", ALGORITHM=INPLACE, LOCK=NONE", stmt}
}

func (mysqlDialect) algorithmRefused(err error) bool {
	var me *mysql.MySQLError
	// 1845 ER_ALTER_OPERATION_NOT_SUPPORTED, 1846 …_REASON.
	return errors.As(err, &me) && (me.Number == 1845 || me.Number == 1846)
}

func (postgresDialect) onlineForms(stmt string) []string { return []string{stmt} }
func (postgresDialect) algorithmRefused(error) bool      { return false }
func (sqliteDialect) onlineForms(stmt string) []string   { return []string{stmt} }
func (sqliteDialect) algorithmRefused(error) bool        { return false }
