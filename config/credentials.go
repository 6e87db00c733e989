package config

import (
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// optionValue is an option's value as a shell word: "quoted", 'quoted' or
// bare; the submatch keeps the quotes (see unquote).
const optionValue = `("[^"]*"|'[^']*'|[^\s'"]+)`

// A spec is stored in workflow history in plain text: a credential written
// in it is readable by anyone who can read the history. These patterns find
// the literal credentials people commonly write in a hook's env values and
// arguments; a reference the shell expands ($NAME, ${NAME}) is not a
// literal and passes.
var (
	// urlPassword: scheme://user:PASSWORD@host.
	urlPassword = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'"]*:([^\s@/'"]+)@`)
	// mysqlPassword: go-sql-driver's user:PASSWORD@tcp(host).
	mysqlPassword = regexp.MustCompile(`(?:^|[\s'"=])[^\s:/@'"=]+:([^\s@/'"]+)@(?:tcp|unix)\(`)
	// keywordPassword: libpq's password=VALUE, a --password=VALUE flag;
	// the value bare or quoted (--password="x", password='x').
	keywordPassword = regexp.MustCompile(`(?i)(?:^|[\s'"])(?:--)?(?:password|passwd|pwd)=` + optionValue)
	// mysqlShortPassword: the MySQL clients' -pPASSWORD (no space), bare
	// or quoted (-p'x', -p"x").
	mysqlShortPassword = regexp.MustCompile(`(?:^|[\s'"])-p` + optionValue)
	mysqlClient        = regexp.MustCompile(`(?:^|[\s/'"])(?:mysql|mysqldump|mysqladmin|mysqlimport|mariadb|mariadb-dump|mysqlpump)(?:\s|$|['"])`)
	// authHeader: an HTTP header that carries a credential, as curl -H or
	// wget --header take it ("Authorization: Bearer VALUE", "X-Api-Key: VALUE").
	authHeader = regexp.MustCompile(`(?i)(?:authorization:\s*(?:bearer|basic|token|bot|apikey)|(?:x-)?api-key:|private-token:|x-auth-token:)\s*` + optionValue)
	// tokenParam: a token, API key or client secret as a URL's query
	// parameter or an option (?access_token=VALUE, --token=VALUE); the
	// value ends at the next parameter.
	tokenParam = regexp.MustCompile(`(?i)(?:^|[\s'"?&])(?:--)?(?:access[_-]?token|auth[_-]?token|api[_-]?key|token|client[_-]?secret|secret)=("[^"]*"|'[^']*'|[^\s'"&#]+)`)
	// curlUser: curl's -u/--user USER:PASSWORD (in one argument or a
	// script; a separate argument is checked with userPassword).
	curlUser     = regexp.MustCompile(`(?:^|[\s'"])(?:-u\s*|--user[\s=]+)["']?[^\s:'"]*:` + optionValue)
	userPassword = regexp.MustCompile(`^[^\s:]*:(.+)$`)
	curlClient   = regexp.MustCompile(`(?:^|[\s/'"])curl(?:\s|$|['"])`)
	// credentialOption: a long option that takes a credential as its next
	// word (--password s3cret, --token abc, --api-key K), in a script; a
	// separate argument is checked with credentialFlags.
	credentialOption = regexp.MustCompile(`(?i)(?:^|[\s'"])--(?:password|passwd|token|api-?key|access-token|auth-token|client-secret|secret-access-key)\s+` + optionValue)
	// jsonCredential: a credential in a JSON body (curl -d '{"password": "x"}').
	jsonCredential = regexp.MustCompile(`(?i)"(?:password|passwd|token|api_?key|access_token|client_secret|secret)"\s*:\s*("[^"]*")`)
	// passNamePattern: variable names that hold a password beyond those
	// secretNamePattern knows (PGPASS, DB_PASS, PASS).
	passNamePattern = regexp.MustCompile(`(?i)(?:^|_)(?:PG)?PASS(?:_|$)`)
	// shellAssignment: NAME=VALUE in a shell command string (sh -c
	// "PGPASSWORD=s3cret psql ...", export TOKEN=..., env NAME=VALUE).
	shellAssignment = regexp.MustCompile(`(?:^|[\s;&|(])(?:(?:export|local|readonly|declare(?:\s+-x)?)\s+)?([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s;&|)]*)`)
)

// literalAssignment returns the name of the first secret-looking variable
// s assigns a literal value to (PGPASSWORD=s3cret, export API_TOKEN='x'),
// or "". An assignment of a reference ($NAME, "${NAME}"), of a command's
// output ($(cat FILE), `cat FILE`) or of nothing is not a literal.
func literalAssignment(s string) string {
	for _, m := range shellAssignment.FindAllStringSubmatch(s, -1) {
		name, value := m[1], unquote(m[2])
		if value != "" && !strings.HasPrefix(value, "$") && !strings.HasPrefix(value, "`") && secretName(name) {
			return name
		}
	}
	return ""
}

// literalCredential returns what kind of literal credential s holds, or "".
// mysqlArgs says s is part of a command that runs a MySQL client, where
// -pVALUE is a password rather than another tool's flag; curlArgs one that
// runs curl, where -u USER:VALUE is a password rather than a user and group.
func literalCredential(s string, mysqlArgs, curlArgs bool) string {
	switch {
	case anyLiteral(urlPassword, s):
		return "the password of a user:password@host URL"
	case anyLiteral(mysqlPassword, s):
		return "the password of a user:password@tcp(host) DSN"
	case anyLiteral(keywordPassword, s):
		return "a password=VALUE"
	case mysqlArgs && anyLiteral(mysqlShortPassword, s):
		return "a MySQL -pPASSWORD argument"
	case anyLiteral(authHeader, s):
		return "the credential of an HTTP header such as Authorization: Bearer TOKEN"
	case anyLiteral(tokenParam, s):
		return "a token=VALUE, api_key=VALUE or secret=VALUE"
	case curlArgs && anyLiteral(curlUser, s):
		return "curl's -u USER:PASSWORD"
	case anyLiteral(credentialOption, s):
		return "a --password VALUE or --token VALUE option"
	case anyLiteral(jsonCredential, s):
		return `a "password": "VALUE" in JSON`
	}
	return ""
}

// credentialFlags are the options whose next argument is a credential
// (argv [tool, --password, s3cret]); the --opt=VALUE and script forms are
// found by keywordPassword, tokenParam and credentialOption.
var credentialFlags = map[string]bool{
	"--password": true, "--passwd": true, "--token": true, "--api-key": true, "--apikey": true,
	"--access-token": true, "--auth-token": true, "--client-secret": true, "--secret-access-key": true,
}

// anyLiteral reports whether one of re's matches in s captures a literal
// value: not empty, not a reference ($NAME, "${NAME}") once unquoted. Every
// match counts: a script may pass a reference first and a literal after.
func anyLiteral(re *regexp.Regexp, s string) bool {
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		if v := unquote(m[1]); v != "" && !strings.HasPrefix(v, "$") {
			return true
		}
	}
	return false
}

// unquote strips one pair of matching quotes around v.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// secretName reports whether an environment variable's name says it holds
// a secret.
func secretName(name string) bool {
	return secretNamePattern.MatchString(name) || passNamePattern.MatchString(name)
}

// checkCredentials refuses literal credentials in a command's env values
// and arguments, and inheritEnv names that would hand a hook a credential
// without redaction: the worker's own GODWIT_* settings, a store's DSN
// variable, a variable named like a secret.
func checkCredentials(add addFunc, path, phase string, c *Command, dsnVars map[string]string) {
	const fix = "the spec is stored in workflow history in plain text: put the value in the worker's environment or a file " +
		"and declare it under secrets: {NAME: {fromEnv: VAR}} (or fromFile), then refer to $NAME in the command"
	mysqlArgs := mysqlClient.MatchString(" " + strings.Join(c.Command, " ") + " ")
	// -u USER:GROUP is another tool's (docker run -u 1000:1000): -u is
	// curl's when curl is the command, or in the script that runs it.
	curlCommand := len(c.Command) > 0 && filepath.Base(c.Command[0]) == "curl"
	for i, arg := range c.Command {
		what := literalCredential(arg, mysqlArgs, curlCommand || curlClient.MatchString(" "+arg+" "))
		if what == "" && curlCommand && i > 0 && (c.Command[i-1] == "-u" || c.Command[i-1] == "--user") && anyLiteral(userPassword, arg) {
			what = "curl's -u USER:PASSWORD"
		}
		if what == "" && i > 0 && credentialFlags[strings.ToLower(c.Command[i-1])] && arg != "" && !strings.HasPrefix(arg, "$") {
			what = "a --password VALUE or --token VALUE option"
		}
		if what != "" {
			add(path+".command["+itoa(i)+"]", "holds a literal credential (%s): %s", what, fix)
		} else if name := literalAssignment(arg); name != "" {
			add(path+".command["+itoa(i)+"]", "phase %s sets %s to a literal value in its command, which is stored in workflow history in plain text: "+
				"declare it under secrets: {%s: {fromEnv: VAR}} (or fromFile), which the worker reads and hands the command in its environment, "+
				"and refer to it as $%s (or drop the assignment)", phase, name, name, name)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		if what := literalCredential(c.Env[k], false, false); what != "" {
			add(path+".env."+k, "holds a literal credential (%s): %s", what, fix)
		} else if passNamePattern.MatchString(k) && !secretNamePattern.MatchString(k) && c.Env[k] != "" {
			add(path+".env."+k, "looks like a secret, and env values are stored in workflow history in plain text: "+
				"move it to secrets: {%s: {fromEnv: VAR}} (or fromFile), which the worker reads itself", k)
		}
	}
	for i, name := range c.InheritEnv {
		sub := path + ".inheritEnv[" + itoa(i) + "]"
		switch {
		case !envNamePattern.MatchString(name):
			add(sub, "%q is not a valid environment variable name", name)
		case strings.HasPrefix(name, "GODWIT_"):
			add(sub, "%s is one of the worker's own settings (its Temporal credentials, its keyring): a hook never gets them; "+
				"the hook's own GODWIT_* variables (GODWIT_PHASE, GODWIT_CHECKPOINT, ...) are set without asking", name)
		case dsnVars[name] != "":
			add(sub, "%s is the DSN variable of store %s, which holds its credentials: declare it under secrets: {%s: {fromEnv: %s}} "+
				"so the hook gets it and its output is redacted", name, dsnVars[name], name, name)
		case secretName(name):
			add(sub, "%s looks like a secret: declare it under secrets: {%s: {fromEnv: %s}} so the hook's output is redacted", name, name, name)
		}
	}
}

// storeDSNVars maps each environment variable a store's DSN is read from
// to the store's name.
func storeDSNVars(s *Spec) map[string]string {
	if s == nil {
		return nil
	}
	out := make(map[string]string, len(s.Stores))
	for _, name := range slices.Sorted(maps.Keys(s.Stores)) {
		if v := s.Stores[name].DSN.FromEnv; v != "" && out[v] == "" {
			out[v] = name
		}
	}
	return out
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// LooksLikeSecretName reports whether an environment variable's name says
// it holds a secret (PGPASSWORD, DB_PASS, GITHUB_TOKEN, API_KEY, ...).
func LooksLikeSecretName(name string) bool { return secretName(name) }
