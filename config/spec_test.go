package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/migration"
)

const (
	phaseNames  = "validate, provision, copy, shift-traffic, reconcile, decommission"
	topFields   = "name, description, taskQueue, resources, notifications, window, stores, mappings, defaults, phases"
	phaseFields = "phase, name, outputs, timeout, heartbeatTimeout, retry, approval, compensatePartial, disruptive, hook"
	cmdFields   = "command, env, secrets, inheritEnv, dir, timeout"
	noAction    = `has no action: add a driver (hook), e.g. hook: {run: {command: ["./migrate.sh"]}}`
	// A validate phase's own wording says how to have the preflight alone.
	noValidateAction = `has no action: a validate phase runs every phase's preflight, then its own action; for the preflight alone give it one that does nothing, hook: {run: {command: ["true"]}}, or a check of its own (hook)`
	noCommand        = `is required: the program and its arguments, e.g. ["sh", "-c", "echo hi"]`
	notDuration      = `is not a duration: write a number with a unit, such as 30s, 5m or 1h30m`
	needsSource      = `needs fromEnv (a variable in the worker's environment) or fromFile (a file on the worker)`
)

// badSpecs are specs ParseSpec must reject, each with its exact error. They
// also seed FuzzParseSpec.
var badSpecs = []struct {
	name, yaml, want string
}{
	{
		name: "empty file",
		yaml: "",
		want: "(document): the spec is empty: it needs at least name and phases",
	},
	{
		name: "only blanks",
		yaml: " \n\t\n",
		want: "(document): the spec is empty: it needs at least name and phases",
	},
	{
		name: "only comments",
		yaml: "# a migration, one day\n",
		want: "(document): the spec is empty: it needs at least name and phases",
	},
	{
		name: "invalid YAML",
		yaml: "name: m\nphases: [\n",
		want: "(document) (line 2): not valid YAML: did not find expected node content\n    2 | phases: [",
	},
	{
		name: "tab indentation",
		yaml: "name: m\nphases:\n\t- phase: validate\n",
		want: "(document) (line 3): not valid YAML: found character that cannot start any token (a tab? YAML indents with spaces only)\n    3 | \t- phase: validate",
	},
	{
		name: "two documents",
		yaml: "name: a\n---\nname: b\n",
		want: "(document) (line 2): the file holds more than one YAML document; put one migration in each file",
	},
	{
		name: "invalid second document is not ignored",
		yaml: "name: a\nphases: [{phase: validate, hook: {run: {command: [a]}}}]\n---\nname: [\n",
		want: "(document) (line 4): not valid YAML: did not find expected node content\n    4 | name: [",
	},
	{
		name: "document is a list",
		yaml: "- name: m\n",
		want: "(document) (line 1): must be a mapping (key: value lines), not a list",
	},
	{
		name: "document is a scalar",
		yaml: "orders-to-postgres\n",
		want: `(document) (line 1): must be a mapping (key: value lines), not the value "orders-to-postgres"`,
	},
	{
		name: "unknown top-level key suggests phases",
		yaml: "name: m\nphase:\n  - phase: validate\n",
		want: `phase (line 2): unknown field (did you mean "phases"?); known fields here: ` + topFields,
	},
	{
		name: "decoding and checking errors are reported together, minus what a typo explains",
		yaml: "name: X\nphases:\n - phase: copi\n   hok: {}\n",
		want: `name (line 1): "X" is not a valid name: use 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit
phases[0].phase (line 3): "copi" is not a phase: use one of validate, provision, copy, shift-traffic, reconcile, decommission
phases[0].hok (line 4): unknown field (did you mean "hook"?); known fields here: phase, name, outputs, timeout, heartbeatTimeout, retry, approval, compensatePartial, disruptive, hook`,
	},
	{
		name: "misspelt name suggests name",
		yaml: "nmae: m\n" + okPhases,
		want: `nmae (line 1): unknown field (did you mean "name"?); known fields here: ` + topFields,
	},
	{
		name: "unknown key far from any field has no suggestion",
		yaml: "owner: team-data\nname: m\n" + okPhases,
		want: "owner (line 1): unknown field; known fields here: " + topFields,
	},
	{
		name: "unknown key inside a phase",
		yaml: `name: m
phases:
  - phase: validate
    timout: 5m
    hook: {run: {command: [./check.sh]}}
`,
		want: `phases[0].timout (line 4): unknown field (did you mean "timeout"?); known fields here: ` + phaseFields,
	},
	{
		name: "unknown key inside hook.run",
		yaml: `name: m
phases:
  - phase: validate
    hook:
      run:
        command: [./check.sh]
        envs: {A: "1"}
`,
		want: `phases[0].hook.run.envs (line 7): unknown field (did you mean "env"?); known fields here: ` + cmdFields,
	},
	{
		name: "unknown key inside hook",
		yaml: `name: m
phases:
  - phase: validate
    hook:
      rollback: {command: [./undo.sh]}
      run: {command: [./do.sh]}
`,
		want: "phases[0].hook.rollback (line 5): unknown field; known fields here: run, steps, compensate, resumable",
	},
	{
		name: "merge keys are refused by name",
		yaml: `name: m
<<: {description: shared}
` + okPhases,
		want: "<< (line 2): merge keys (<<) are not supported: write the fields out, or use defaults for settings shared by phases",
	},
	{
		name: "key that is not text",
		yaml: "name: m\n? [a, b]\n: c\n",
		want: "(document) (line 2): a key must be text, not a list",
	},
	{
		name: "phases as a mapping",
		yaml: `name: m
phases:
  validate:
    hook: {run: {command: [./check.sh]}}
`,
		want: `phases (line 3): must be a list ("- item" lines or [a, b]), not a mapping`,
	},
	{
		name: "phase name as a number",
		yaml: "name: m\nphases:\n  - phase: 1\n",
		want: "phases[0].phase (line 3): must be text, not the number 1",
	},
	{
		name: "timeout as a number without unit",
		yaml: `name: m
phases:
  - phase: validate
    timeout: 30
    hook: {run: {command: [./check.sh]}}
`,
		want: `phases[0].timeout (line 4): "30" ` + notDuration,
	},
	{
		name: "duration with an unknown unit",
		yaml: "name: m\ndefaults:\n  heartbeatTimeout: 5x\n" + okPhases,
		want: `defaults.heartbeatTimeout (line 3): "5x" ` + notDuration,
	},
	{
		name: "duration as a mapping",
		yaml: "name: m\ndefaults:\n  timeout: {minutes: 5}\n" + okPhases,
		want: "defaults.timeout (line 3): must be a duration such as 30s, 5m or 1h30m, not a mapping",
	},
	{
		name: "maxAttempts as a word",
		yaml: "name: m\ndefaults:\n  retry:\n    maxAttempts: three\n" + okPhases,
		want: `defaults.retry.maxAttempts (line 4): must be a whole number, not "three"`,
	},
	{
		name: "backoffCoefficient as a word",
		yaml: "name: m\ndefaults:\n  retry: {backoffCoefficient: double}\n" + okPhases,
		want: `defaults.retry.backoffCoefficient (line 3): must be a number, not "double"`,
	},
	{
		name: "backoffCoefficient not finite",
		yaml: "name: m\ndefaults:\n  retry: {backoffCoefficient: NaN}\n" + okPhases,
		want: `defaults.retry.backoffCoefficient (line 3): must be a finite number, not "NaN"`,
	},
	{
		name: "compensatePartial not a boolean",
		yaml: `name: m
phases:
  - phase: copy
    compensatePartial: yes please
    hook: {run: {command: [./copy.sh]}}
`,
		want: `phases[0].compensatePartial (line 4): must be true or false, not "yes please"`,
	},
	{
		name: "compensatePartial quoted",
		yaml: "name: m\nphases:\n  - phase: copy\n    compensatePartial: \"true\"\n",
		want: `phases[0].compensatePartial (line 4): must be true or false, not "true"`,
	},
	{
		name: "command as a string instead of a list",
		yaml: `name: m
phases:
  - phase: validate
    hook:
      run:
        command: ./check.sh --all
`,
		want: `phases[0].hook.run.command (line 6): must be a list ("- item" lines or [a, b]), not the value "./check.sh --all"`,
	},
	{
		name: "command argument as a list",
		yaml: "name: m\nphases:\n  - phase: validate\n    hook: {run: {command: [sh, [-c]]}}\n",
		want: "phases[0].hook.run.command[1] (line 4): must be a single value, not a list",
	},
	{
		name: "env as a list",
		yaml: `name: m
phases:
  - phase: validate
    hook:
      run:
        command: [./check.sh]
        env:
          - DEBUG=1
`,
		want: "phases[0].hook.run.env (line 8): must be a mapping (key: value lines), not a list",
	},
	{
		name: "hook as a string",
		yaml: "name: m\nphases:\n  - phase: validate\n    hook: ./check.sh\n",
		want: `phases[0].hook (line 4): must be a mapping (key: value lines), not the value "./check.sh"`,
	},
	{
		name: "top-level key given twice",
		yaml: "name: a\nname: b\n" + okPhases,
		want: "name (line 2): is given twice",
	},
	{
		name: "env key given twice",
		yaml: `name: m
phases:
  - phase: validate
    hook:
      run:
        command: [./check.sh]
        env:
          MODE: fast
          MODE: slow
`,
		want: "phases[0].hook.run.env.MODE (line 9): is given twice",
	},
	{
		name: "missing name",
		yaml: `description: no name
phases:
  - phase: validate
    hook: {run: {command: [./check.sh]}}
`,
		want: "name: is required: the migration's name, which is also its workflow ID (e.g. orders-to-postgres)",
	},
	{
		name: "name with uppercase letters",
		yaml: "name: Orders\nphases: [{phase: validate, hook: {run: {command: [a]}}}]\n",
		want: `name (line 1): "Orders" is not a valid name: use 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
	},
	{
		name: "name with spaces",
		yaml: "name: orders to postgres\nphases: [{phase: validate, hook: {run: {command: [a]}}}]\n",
		want: `name (line 1): "orders to postgres" is not a valid name: use 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
	},
	{
		name: "missing phases",
		yaml: "name: m\n",
		want: "phases: is required: list at least one phase (" + phaseNames + ")",
	},
	{
		name: "empty phases",
		yaml: "name: m\nphases: []\n",
		want: "phases (line 2): is required: list at least one phase (" + phaseNames + ")",
	},
	{
		name: "phase without phase name",
		yaml: "name: m\nphases:\n  - hook: {run: {command: [a]}}\n",
		want: "phases[0].phase (line 3): is required: one of " + phaseNames,
	},
	{
		name: "unknown phase name",
		yaml: "name: m\nphases:\n  - phase: migrate\n    hook: {run: {command: [a]}}\n",
		want: `phases[0].phase (line 3): "migrate" is not a phase: use one of ` + phaseNames,
	},
	{
		name: "phase out of order",
		yaml: `name: m
phases:
  - phase: copy
    hook: {run: {command: [./copy.sh]}}
  - phase: validate
    hook: {run: {command: [./check.sh]}}
`,
		want: "phases[1].phase (line 5): validate must come before the phases that change things, but copy comes earlier: move it up",
	},
	{
		name: "phase listed twice",
		yaml: `name: m
phases:
  - phase: copy
    hook: {run: {command: [./copy.sh]}}
  - phase: copy
    hook: {run: {command: [./copy-again.sh]}}
`,
		want: `phases[1].name (line 5): "copy" is already the name of phases[0]: give each phase of the same kind (a phase's name defaults to its kind) a unique name, e.g. name: copy-2`,
	},
	{
		name: "phase without hook",
		yaml: "name: m\nphases:\n  - phase: validate\n    timeout: 1m\n",
		want: "phases[0] (line 3): " + noValidateAction,
	},
	{
		name: "hook without run",
		yaml: `name: m
phases:
  - phase: validate
    hook:
      compensate: {command: [./undo.sh]}
`,
		want: "phases[0].hook.run (line 4): is required: the command the phase runs (or steps: a list of commands, waits and gates)",
	},
	{
		name: "empty command",
		yaml: "name: m\nphases:\n  - phase: validate\n    hook: {run: {command: []}}\n",
		want: "phases[0].hook.run.command (line 4): " + noCommand,
	},
	{
		name: "command with an empty program",
		yaml: "name: m\nphases:\n  - phase: validate\n    hook:\n      compensate:\n        command: [\"\", x]\n      run: {command: [a]}\n",
		want: "phases[0].hook.compensate.command (line 6): " + noCommand,
	},
	{
		name: "negative maxAttempts",
		yaml: `name: m
phases:
  - phase: validate
    retry:
      maxAttempts: -1
    hook: {run: {command: [./check.sh]}}
`,
		want: "phases[0].retry.maxAttempts (line 5): must be at least 1 (1 means no retry), not -1",
	},
	{
		name: "backoffCoefficient below one",
		yaml: "name: m\ndefaults:\n  retry:\n    backoffCoefficient: 0.5\nphases: [{phase: validate, hook: {run: {command: [a]}}}]\n",
		want: "defaults.retry.backoffCoefficient (line 4): must be at least 1, not 0.5",
	},
	{
		name: "a bad default is reported once, not once per phase",
		yaml: `name: m
defaults:
  timeout: -1m
  retry: {maxAttempts: -1}
phases:
  - phase: validate
    hook: {run: {command: [./check.sh]}}
  - phase: copy
    retry: {initialInterval: 1s}
    hook: {run: {command: [./copy.sh]}}
`,
		want: "defaults.timeout (line 3): must be positive, e.g. 10m\n" +
			"defaults.retry.maxAttempts (line 4): must be at least 1 (1 means no retry), not -1",
	},
	{
		name: "a bad value written both at defaults and at a phase is reported twice",
		yaml: `name: m
defaults:
  retry: {maxAttempts: -1}
phases:
  - phase: validate
    retry: {maxAttempts: -1}
    hook: {run: {command: [./check.sh]}}
`,
		want: "defaults.retry.maxAttempts (line 3): must be at least 1 (1 means no retry), not -1\n" +
			"phases[0].retry.maxAttempts (line 6): must be at least 1 (1 means no retry), not -1",
	},
	{
		name: "maxInterval shorter than initialInterval",
		yaml: `name: m
phases:
  - phase: validate
    retry:
      initialInterval: 10s
      maxInterval: 1s
    hook: {run: {command: [./check.sh]}}
`,
		want: "phases[0].retry.maxInterval (line 6): 1s is shorter than initialInterval 10s",
	},
	{
		name: "negative timeout",
		yaml: "name: m\nphases:\n  - phase: validate\n    timeout: -5m\n    hook: {run: {command: [a]}}\n",
		want: "phases[0].timeout (line 4): must be positive, e.g. 10m",
	},
	{
		name: "heartbeatTimeout longer than timeout",
		yaml: `name: m
phases:
  - phase: copy
    timeout: 1m
    heartbeatTimeout: 2m
    hook: {run: {command: [./copy.sh]}}
`,
		want: "phases[0].heartbeatTimeout (line 5): 2m0s is longer than the timeout 1m0s: a heartbeat timeout must be shorter",
	},
	{
		name: "default heartbeatTimeout longer than default timeout",
		yaml: "name: m\ndefaults:\n  timeout: 20s\n  heartbeatTimeout: 1m\nphases: [{phase: validate, hook: {run: {command: [a]}}}]\n",
		want: "defaults.heartbeatTimeout (line 4): 1m0s is longer than the timeout 20s: a heartbeat timeout must be shorter",
	},
	{
		name: "command timeout longer than phase timeout",
		yaml: `name: m
phases:
  - phase: copy
    timeout: 10m
    hook:
      run:
        command: [./copy.sh]
        timeout: 20m
`,
		want: "phases[0].hook.run.timeout (line 8): 20m0s is longer than the phase timeout 10m0s: the phase would time out first",
	},
	{
		name: "approval without gate",
		yaml: `name: m
phases:
  - phase: shift-traffic
    approval:
      timeout: 1h
    hook: {run: {command: [./shift.sh]}}
`,
		want: "phases[0].approval.gate (line 4): is required: the gate's name, used in `godwit approve <migration> --gate <name>`",
	},
	{
		name: "gate name with spaces",
		yaml: "name: m\nphases:\n  - phase: copy\n    approval: {gate: go ahead}\n    hook: {run: {command: [a]}}\n",
		want: `phases[0].approval.gate (line 4): "go ahead" is not a valid gate name: use letters, digits, '.', '_' or '-'`,
	},
	{
		name: "negative approval timeout",
		yaml: "name: m\nphases:\n  - phase: copy\n    approval: {gate: go, timeout: -1h}\n    hook: {run: {command: [a]}}\n",
		want: "phases[0].approval.timeout (line 4): must not be negative",
	},
	{
		name: "duplicate gate names",
		yaml: `name: m
phases:
  - phase: copy
    approval: {gate: go}
    hook: {run: {command: [./copy.sh]}}
  - phase: shift-traffic
    approval:
      gate: go
    hook: {run: {command: [./shift.sh]}}
`,
		want: `phases[1].approval.gate (line 8): "go" is already the gate of phases[0]: gate names must be unique`,
	},
	{
		name: "bad env var name",
		yaml: `name: m
phases:
  - phase: validate
    hook:
      run:
        command: [./check.sh]
        env:
          LOG-LEVEL: debug
`,
		want: "phases[0].hook.run.env.LOG-LEVEL (line 8): is not a valid environment variable name",
	},
	{
		name: "secret with neither fromEnv nor fromFile",
		yaml: `name: m
phases:
  - phase: copy
    hook:
      run:
        command: [./copy.sh]
        secrets:
          DB_PASSWORD: {}
`,
		want: "phases[0].hook.run.secrets.DB_PASSWORD (line 8): " + needsSource,
	},
	{
		name: "secret with null value",
		yaml: "name: m\nphases:\n  - phase: copy\n    hook:\n      run:\n        command: [a]\n        secrets:\n          TOKEN:\n",
		want: "phases[0].hook.run.secrets.TOKEN (line 8): " + needsSource,
	},
	{
		name: "secret with both fromEnv and fromFile",
		yaml: `name: m
phases:
  - phase: copy
    hook:
      run:
        command: [./copy.sh]
        secrets:
          DB_PASSWORD:
            fromEnv: PGPASSWORD
            fromFile: /run/secrets/pg
`,
		want: "phases[0].hook.run.secrets.DB_PASSWORD (line 8): sets both fromEnv and fromFile: choose one",
	},
	{
		name: "secret also set in env",
		yaml: `name: m
phases:
  - phase: copy
    hook:
      run:
        command: [./copy.sh]
        env:
          DB_DSN: postgres://db/orders
        secrets:
          DB_DSN: {fromEnv: ORDERS_DSN}
`,
		want: "phases[0].hook.run.secrets.DB_DSN (line 10): is also set in env: set it in one place",
	},
	{
		name: "secret-looking names may not take literal env values",
		yaml: `name: m
phases:
  - phase: copy
    hook:
      run:
        command: [./copy.sh]
        env:
          PGPASSWORD: hunter2
          GITHUB_TOKEN: ghp_x
          MYSQL_PWD: pw
          PWD: /srv
          TOKEN_TTL: ""
`,
		want: "phases[0].hook.run.env.PGPASSWORD (line 8): looks like a secret, and env values are stored in workflow history in plain text: move it to secrets: {PGPASSWORD: {fromEnv: VAR}} (or fromFile), which the worker reads itself\n" +
			"phases[0].hook.run.env.GITHUB_TOKEN (line 9): looks like a secret, and env values are stored in workflow history in plain text: move it to secrets: {GITHUB_TOKEN: {fromEnv: VAR}} (or fromFile), which the worker reads itself\n" +
			"phases[0].hook.run.env.MYSQL_PWD (line 10): looks like a secret, and env values are stored in workflow history in plain text: move it to secrets: {MYSQL_PWD: {fromEnv: VAR}} (or fromFile), which the worker reads itself",
	},
	{
		name: "literal credentials in env values and arguments are refused; $NAME references pass",
		yaml: `name: m
stores:
  orders: {engine: postgres, dsn: {fromEnv: ORDERS_DSN}}
phases:
  - phase: copy
    hook:
      run:
        command: [sh, -c, 'mysql -uroot -phunter2 -e "select 1"; psql "postgres://app:$PGPW@db/x"; mysql -p"$PW"']
        env:
          TARGET: postgres://app:s3cret@db:5432/orders
          MY: app:pw1@tcp(db:3306)/orders
          KV: host=db password=pw2
          DB_PASS: pw3
          PGPASS: pw4
          BYPASS: "1"
          REF: postgres://app:$PW@db/orders
      compensate:
        command: [psql, --password=pw5, "postgres://u:pw6@db/x"]
`,
		want: "phases[0].hook.run.command[2] (line 8): holds a literal credential (a MySQL -pPASSWORD argument): " + literalFix + "\n" +
			"phases[0].hook.run.env.TARGET (line 10): holds a literal credential (the password of a user:password@host URL): " + literalFix + "\n" +
			"phases[0].hook.run.env.MY (line 11): holds a literal credential (the password of a user:password@tcp(host) DSN): " + literalFix + "\n" +
			"phases[0].hook.run.env.KV (line 12): holds a literal credential (a password=VALUE): " + literalFix + "\n" +
			"phases[0].hook.run.env.DB_PASS (line 13): looks like a secret, and env values are stored in workflow history in plain text: move it to secrets: {DB_PASS: {fromEnv: VAR}} (or fromFile), which the worker reads itself\n" +
			"phases[0].hook.run.env.PGPASS (line 14): looks like a secret, and env values are stored in workflow history in plain text: move it to secrets: {PGPASS: {fromEnv: VAR}} (or fromFile), which the worker reads itself\n" +
			"phases[0].hook.compensate.command[1] (line 18): holds a literal credential (a password=VALUE): " + literalFix + "\n" +
			"phases[0].hook.compensate.command[2] (line 18): holds a literal credential (the password of a user:password@host URL): " + literalFix,
	},
	{
		name: "a literal secret assigned in a shell command string is refused, naming the phase; references pass",
		yaml: `name: m
phases:
  - phase: validate
    hook:
      run:
        command: [sh, -c, 'PGPASSWORD=s3cret psql -h db -c "select 1"']
      compensate:
        command: [bash, -c, "export API_TOKEN='abc'; PGPASSWORD=$PGPW psql; DB_PASS=\"${P}\" ./x; TOKEN_TTL= ./y; PGPASSWORD=$(cat /run/pw) psql"]
  - phase: provision
    hook:
      run:
        command: [sh, -c, 'mysql -uroot -pS3cret -e "select 1"']
`,
		want: "phases[0].hook.run.command[2] (line 6): phase validate sets PGPASSWORD to a literal value in its command, which is stored in workflow history in plain text: " +
			"declare it under secrets: {PGPASSWORD: {fromEnv: VAR}} (or fromFile), which the worker reads and hands the command in its environment, and refer to it as $PGPASSWORD (or drop the assignment)\n" +
			"phases[0].hook.compensate.command[2] (line 8): phase validate sets API_TOKEN to a literal value in its command, which is stored in workflow history in plain text: " +
			"declare it under secrets: {API_TOKEN: {fromEnv: VAR}} (or fromFile), which the worker reads and hands the command in its environment, and refer to it as $API_TOKEN (or drop the assignment)\n" +
			"phases[1].hook.run.command[2] (line 12): holds a literal credential (a MySQL -pPASSWORD argument): " + literalFix,
	},
	{
		name: "a quoted literal password (-p'x', -p\"x\", --password=\"x\", --password='x', in arguments and sh -c scripts) is refused; quoted $NAME references pass",
		yaml: `name: m
phases:
  - phase: copy
    name: a
    hook:
      run:
        command: [mysql, "-p'secret'", -e, "select 1"]
      compensate:
        command: [mysqldump, '-p"secret"', db]
  - phase: copy
    name: b
    hook:
      run:
        command: [psql, '--password="secret"', "--password='secret'", '--password="$PW"']
      compensate:
        command: [sh, -c, "mysql -uroot -p'secret' db"]
  - phase: copy
    name: c
    hook:
      run:
        command: [sh, -c, "mysql -p\"$DB_PASS\" db; mysql --password=\"secret\" db"]
      compensate:
        command: [bash, -c, 'mysql -p"${DB_PASS}" db && mysql --password="$PW" db && mysql -p"$A" -e "select 1"; mysql -p''s3'' x']
`,
		want: "phases[0].hook.run.command[1] (line 7): holds a literal credential (a MySQL -pPASSWORD argument): " + literalFix + "\n" +
			"phases[0].hook.compensate.command[1] (line 9): holds a literal credential (a MySQL -pPASSWORD argument): " + literalFix + "\n" +
			"phases[1].hook.run.command[1] (line 14): holds a literal credential (a password=VALUE): " + literalFix + "\n" +
			"phases[1].hook.run.command[2] (line 14): holds a literal credential (a password=VALUE): " + literalFix + "\n" +
			"phases[1].hook.compensate.command[2] (line 16): holds a literal credential (a MySQL -pPASSWORD argument): " + literalFix + "\n" +
			"phases[2].hook.run.command[2] (line 21): holds a literal credential (a password=VALUE): " + literalFix + "\n" +
			"phases[2].hook.compensate.command[2] (line 23): holds a literal credential (a MySQL -pPASSWORD argument): " + literalFix,
	},
	{
		name: "a literal bearer token, API key in a URL, --token= or curl -u user:password is refused; $NAME references and docker -u uid:gid pass",
		yaml: `name: m
phases:
  - phase: validate
    hook:
      run:
        command: [curl, -H, "Authorization: Bearer tok123", "https://api.example.com/x?api_key=k456&page=2"]
        env:
          CALLBACK: "https://hooks.example.com/in?token=t789"
          OK_REF: "https://hooks.example.com/in?token=$HOOK_TOKEN"
  - phase: provision
    hook:
      run:
        command: [sh, -c, 'curl -H "Authorization: Bearer $API_TOKEN" -H "X-Api-Key: $KEY" https://api/x; curl -u admin:hunter2 https://api/y']
      compensate:
        command: [curl, -u, "admin:pw9", "https://api/z"]
  - phase: copy
    hook:
      run:
        command: [vault, login, --token=s.abc]
      compensate:
        command: [docker, run, -u, "1000:1000", img, sh, -c, 'curl -u "admin:$PW" https://api/w']
`,
		want: "phases[0].hook.run.command[2] (line 6): holds a literal credential (the credential of an HTTP header such as Authorization: Bearer TOKEN): " + literalFix + "\n" +
			"phases[0].hook.run.command[3] (line 6): holds a literal credential (a token=VALUE, api_key=VALUE or secret=VALUE): " + literalFix + "\n" +
			"phases[0].hook.run.env.CALLBACK (line 8): holds a literal credential (a token=VALUE, api_key=VALUE or secret=VALUE): " + literalFix + "\n" +
			"phases[1].hook.run.command[2] (line 13): holds a literal credential (curl's -u USER:PASSWORD): " + literalFix + "\n" +
			"phases[1].hook.compensate.command[2] (line 15): holds a literal credential (curl's -u USER:PASSWORD): " + literalFix + "\n" +
			"phases[2].hook.run.command[2] (line 19): holds a literal credential (a token=VALUE, api_key=VALUE or secret=VALUE): " + literalFix,
	},
	{
		name: "a $NAME of the hook's secrets or env in a command no shell runs is refused (it would be passed as is); in a shell's script it passes",
		yaml: `name: m
phases:
  - phase: validate
    hook:
      run:
        command: [curl, -H, "Authorization: Bearer $API_TOKEN", "https://api/x?t=${TARGET}", "$HOME"]
        env: {TARGET: orders}
        secrets: {API_TOKEN: {fromEnv: API_TOKEN}}
      compensate:
        command: [./undo.sh, "$GODWIT_STEPS_DONE"]
  - phase: copy
    hook:
      run:
        command: [env, LC_ALL=C, bash, -c, 'curl -H "Authorization: Bearer $API_TOKEN" https://api/x']
        secrets: {API_TOKEN: {fromEnv: API_TOKEN}}
      compensate:
        command: [/bin/sh, ./undo.sh, "$API_TOKEN"]
        secrets: {API_TOKEN: {fromEnv: API_TOKEN}}
`,
		want: "phases[0].hook.run.command[2] (line 6): refers to $API_TOKEN, but no shell runs this command, so the program gets the text \"$API_TOKEN\", not its value: " +
			"run it through one (command: [sh, -c, 'curl ... \"$API_TOKEN\"']) or have the program read API_TOKEN from its environment\n" +
			"phases[0].hook.run.command[3] (line 6): refers to ${TARGET}, but no shell runs this command, so the program gets the text \"${TARGET}\", not its value: " +
			"run it through one (command: [sh, -c, 'curl ... \"$TARGET\"']) or have the program read TARGET from its environment\n" +
			"phases[0].hook.compensate.command[1] (line 10): refers to $GODWIT_STEPS_DONE, but no shell runs this command, so the program gets the text \"$GODWIT_STEPS_DONE\", not its value: " +
			"run it through one (command: [sh, -c, 'undo.sh ... \"$GODWIT_STEPS_DONE\"']) or have the program read GODWIT_STEPS_DONE from its environment",
	},
	{
		name: "inheritEnv may not name the worker's settings, a store's DSN variable or a secret",
		yaml: `name: m
stores:
  orders: {engine: postgres, dsn: {fromEnv: ORDERS_DSN}}
phases:
  - phase: copy
    hook:
      run:
        command: [./copy.sh]
        inheritEnv: [AWS_REGION, GODWIT_CODEC_KEYS, ORDERS_DSN, GITHUB_TOKEN, "A-B"]
        secrets:
          ORDERS_DSN: {fromEnv: ORDERS_DSN}
`,
		want: "phases[0].hook.run.inheritEnv[1] (line 9): GODWIT_CODEC_KEYS is one of the worker's own settings (its Temporal credentials, its keyring): a hook never gets them; the hook's own GODWIT_* variables (GODWIT_PHASE, GODWIT_CHECKPOINT, ...) are set without asking\n" +
			"phases[0].hook.run.inheritEnv[2] (line 9): ORDERS_DSN is the DSN variable of store orders, which holds its credentials: declare it under secrets: {ORDERS_DSN: {fromEnv: ORDERS_DSN}} so the hook gets it and its output is redacted\n" +
			"phases[0].hook.run.inheritEnv[3] (line 9): GITHUB_TOKEN looks like a secret: declare it under secrets: {GITHUB_TOKEN: {fromEnv: GITHUB_TOKEN}} so the hook's output is redacted\n" +
			"phases[0].hook.run.inheritEnv[4] (line 9): \"A-B\" is not a valid environment variable name",
	},
	{
		name: "secret as a string",
		yaml: "name: m\nphases:\n  - phase: copy\n    hook:\n      run:\n        command: [a]\n        secrets: {TOKEN: hunter2}\n",
		want: "phases[0].hook.run.secrets.TOKEN (line 7): must not be written in the spec, where it would be stored in workflow history in plain text: write {fromEnv: VAR} (a variable in the worker's environment) or {fromFile: PATH} (a file on the worker)",
	},
	{
		name: "several decoding errors are all reported in document order",
		yaml: `nmae: m
phases:
  - phase: validate
    timeout: 30
    retry: {maxAttempts: three}
    hook:
      run:
        command: ./check.sh
        env: [A=1]
  - phase: copy
    compensatePartial: maybe
`,
		want: `nmae (line 1): unknown field (did you mean "name"?); known fields here: ` + topFields + `
phases[0].timeout (line 4): "30" ` + notDuration + `
phases[0].retry.maxAttempts (line 5): must be a whole number, not "three"
phases[0].hook.run.command (line 8): must be a list ("- item" lines or [a, b]), not the value "./check.sh"
phases[0].hook.run.env (line 9): must be a mapping (key: value lines), not a list
phases[1].compensatePartial (line 11): must be true or false, not "maybe"`,
	},
	{
		name: "several checking errors are all reported in document order",
		yaml: `phases:
  - phase: copy
    retry: {maxAttempts: -2}
  - phase: validate
    approval: {gate: go}
    hook:
      run:
        command: []
        timeout: 1h
  - phase: decommission
    approval: {gate: go}
    hook: {run: {command: [./drop.sh], env: {"1X": y}}}
name: Bad Name
`,
		want: `phases[0] (line 2): ` + noAction + `
phases[0].retry.maxAttempts (line 3): must be at least 1 (1 means no retry), not -2
phases[1].phase (line 4): validate must come before the phases that change things, but copy comes earlier: move it up
phases[1].hook.run.command (line 8): ` + noCommand + `
phases[1].hook.run.timeout (line 9): 1h0m0s is longer than the phase timeout 10m0s: the phase would time out first
phases[2].approval.gate (line 11): "go" is already the gate of phases[1]: gate names must be unique
phases[2].hook.run.env.1X (line 12): is not a valid environment variable name
name (line 13): "Bad Name" is not a valid name: use 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
	},
}

// okPhases is a valid phases list, for cases about other fields.
const okPhases = "phases: [{phase: validate, hook: {run: {command: [./check.sh]}}}]\n"

const literalFix = "the spec is stored in workflow history in plain text: put the value in the worker's environment or a file and declare it under secrets: {NAME: {fromEnv: VAR}} (or fromFile), then refer to $NAME in the command"

func TestParseSpecRejectsBadSpecs(t *testing.T) {
	require.GreaterOrEqual(t, len(badSpecs), 25)
	seen := map[string]bool{}
	for _, tc := range badSpecs {
		require.False(t, seen[tc.name], "case name %q used twice", tc.name)
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			spec, err := ParseSpec([]byte(tc.yaml))
			require.EqualError(t, err, tc.want)
			assert.Nil(t, spec)
			var fe FieldErrors
			require.ErrorAs(t, err, &fe)
			n := 0 // one FieldError per line, the source lines shown under one aside
			for _, l := range strings.Split(tc.want, "\n") {
				if !strings.HasPrefix(l, " ") {
					n++
				}
			}
			assert.Len(t, fe, n, "one FieldError per line")
		})
	}
}

func TestFieldErrorFormat(t *testing.T) {
	assert.Equal(t, "a.b (line 3): bad", FieldError{Path: "a.b", Line: 3, Message: "bad"}.Error())
	assert.Equal(t, "a.b: bad", FieldError{Path: "a.b", Message: "bad"}.Error())
	assert.Equal(t, "(document) (line 1): bad", FieldError{Line: 1, Message: "bad"}.Error())
	assert.Equal(t, "x: one\ny (line 2): two", FieldErrors{{Path: "x", Message: "one"}, {Path: "y", Line: 2, Message: "two"}}.Error())
}

func TestLoadSpecNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(path, []byte("name: m\n"), 0o600))
	_, err := LoadSpec(path)
	require.EqualError(t, err, "spec "+path+" is not valid:\nphases: is required: list at least one phase ("+phaseNames+")")
	var fe FieldErrors
	require.ErrorAs(t, err, &fe)

	_, err = LoadSpec(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func d(s string) Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return Duration(v)
}

func TestParseSpecAppliesDefaults(t *testing.T) {
	t.Run("minimal spec gets the documented defaults", func(t *testing.T) {
		spec, err := ParseSpec([]byte(`name: m
phases:
  - phase: validate
    hook:
      run: {command: [./check.sh]}
      compensate: {command: [./undo.sh]}
`))
		require.NoError(t, err)
		defaultRetry := &RetryPolicy{MaxAttempts: 3, InitialInterval: d("1s"), BackoffCoefficient: 2, MaxInterval: d("1m")}
		assert.Equal(t, PhaseDefaults{Timeout: d("10m"), HeartbeatTimeout: d("30s"), Retry: defaultRetry}, spec.Defaults)
		require.Len(t, spec.Phases, 1)
		assert.Equal(t, PhaseSpec{
			Phase: migration.PhaseValidate, Name: string(migration.PhaseValidate), Timeout: d("10m"), HeartbeatTimeout: d("30s"), Retry: defaultRetry,
			Driver: &Hook{
				Run:        &Command{Command: []string{"./check.sh"}, Timeout: d("5m")},
				Compensate: &Command{Command: []string{"./undo.sh"}, Timeout: d("5m")},
			},
		}, spec.Phases[0])
		// Phases own their retry policy: changing one leaves the defaults be.
		assert.NotSame(t, spec.Defaults.Retry, spec.Phases[0].Retry)
		assert.Equal(t, DefaultCommandTimeout, spec.Phases[0].Hook().Run.Timeout.D())
	})

	t.Run("phase values override defaults", func(t *testing.T) {
		spec, err := ParseSpec([]byte(`name: m
defaults:
  timeout: 1h
  heartbeatTimeout: 1m
  retry: {maxAttempts: 5, initialInterval: 2s, backoffCoefficient: 3, maxInterval: 5m}
phases:
  - phase: validate
    hook: {run: {command: [a]}}
  - phase: copy
    timeout: 2m
    heartbeatTimeout: 10s
    retry: {maxAttempts: 1, initialInterval: 5s, backoffCoefficient: 1.5, maxInterval: 10s}
    hook: {run: {command: [b], timeout: 90s}}
`))
		require.NoError(t, err)
		v, c := spec.Phases[0], spec.Phases[1]
		assert.Equal(t, d("1h"), v.Timeout)
		assert.Equal(t, d("1m"), v.HeartbeatTimeout)
		assert.Equal(t, &RetryPolicy{MaxAttempts: 5, InitialInterval: d("2s"), BackoffCoefficient: 3, MaxInterval: d("5m")}, v.Retry)
		assert.Equal(t, d("5m"), v.Hook().Run.Timeout, "command timeout defaults to 5m under a longer phase timeout")
		assert.Equal(t, d("2m"), c.Timeout)
		assert.Equal(t, d("10s"), c.HeartbeatTimeout)
		assert.Equal(t, &RetryPolicy{MaxAttempts: 1, InitialInterval: d("5s"), BackoffCoefficient: 1.5, MaxInterval: d("10s")}, c.Retry)
		assert.Equal(t, d("90s"), c.Hook().Run.Timeout)
	})

	t.Run("partial retry policies are filled field by field", func(t *testing.T) {
		spec, err := ParseSpec([]byte(`name: m
defaults:
  retry:
    maxAttempts: 7
phases:
  - phase: validate
    retry: {backoffCoefficient: 1.5}
    hook: {run: {command: [a]}}
  - phase: copy
    retry: {}
    hook: {run: {command: [b]}}
`))
		require.NoError(t, err)
		assert.Equal(t, &RetryPolicy{MaxAttempts: 7, InitialInterval: d("1s"), BackoffCoefficient: 2, MaxInterval: d("1m")}, spec.Defaults.Retry)
		assert.Equal(t, &RetryPolicy{MaxAttempts: 7, InitialInterval: d("1s"), BackoffCoefficient: 1.5, MaxInterval: d("1m")}, spec.Phases[0].Retry)
		assert.Equal(t, &RetryPolicy{MaxAttempts: 7, InitialInterval: d("1s"), BackoffCoefficient: 2, MaxInterval: d("1m")}, spec.Phases[1].Retry)
	})

	t.Run("command timeout defaults to a shorter phase timeout", func(t *testing.T) {
		spec, err := ParseSpec([]byte(`name: m
defaults: {timeout: 3m}
phases:
  - phase: validate
    hook: {run: {command: [a]}, compensate: {command: [b]}}
  - phase: copy
    timeout: 7m
    hook: {run: {command: [a]}}
`))
		require.NoError(t, err)
		assert.Equal(t, d("3m"), spec.Phases[0].Hook().Run.Timeout)
		assert.Equal(t, d("3m"), spec.Phases[0].Hook().Compensate.Timeout)
		assert.Equal(t, d("5m"), spec.Phases[1].Hook().Run.Timeout)
	})

	t.Run("inherited values never contradict written ones", func(t *testing.T) {
		// A 10s phase must not fail because the default heartbeat is 30s,
		// nor a 2m initialInterval because the default maxInterval is 1m.
		spec, err := ParseSpec([]byte(`name: m
defaults:
  timeout: 20s
  retry: {initialInterval: 90s}
phases:
  - phase: validate
    timeout: 10s
    retry: {initialInterval: 2m}
    hook: {run: {command: [a]}}
  - phase: copy
    timeout: 1h
    hook: {run: {command: [a]}}
`))
		require.NoError(t, err)
		assert.Equal(t, d("20s"), spec.Defaults.HeartbeatTimeout)
		assert.Equal(t, d("90s"), spec.Defaults.Retry.MaxInterval)
		assert.Equal(t, d("10s"), spec.Phases[0].HeartbeatTimeout)
		assert.Equal(t, d("2m"), spec.Phases[0].Retry.MaxInterval)
		assert.Equal(t, d("10s"), spec.Phases[0].Hook().Run.Timeout)
		assert.Equal(t, d("30s"), spec.Phases[1].HeartbeatTimeout, "the built-in heartbeat, not the one cut to defaults.timeout")
		assert.Equal(t, d("90s"), spec.Phases[1].Retry.MaxInterval)
	})

	t.Run("explicit zero and null mean unset", func(t *testing.T) {
		spec, err := ParseSpec([]byte(`name: m
description: ~
defaults:
  timeout: 0s
  retry:
phases:
  - phase: validate
    heartbeatTimeout: 0
    approval:
    hook: {run: {command: [a], env: {}, secrets: {}}}
`))
		require.NoError(t, err)
		assert.Equal(t, d("10m"), spec.Defaults.Timeout)
		assert.Equal(t, d("30s"), spec.Phases[0].HeartbeatTimeout)
		assert.Nil(t, spec.Phases[0].Approval)
		assert.Nil(t, spec.Phases[0].Hook().Run.Env)
		assert.Nil(t, spec.Phases[0].Hook().Run.Secrets)
	})
}

func TestParseSpecAliases(t *testing.T) {
	t.Run("aliases used in earnest work", func(t *testing.T) {
		spec, err := ParseSpec([]byte(`name: m
phases:
  - phase: copy
    hook:
      run:
        command: [./copy.sh]
        env: &env {REGION: eu-west-1, MODE: online}
      compensate:
        command: [./uncopy.sh]
        env: *env
`))
		require.NoError(t, err)
		hook := spec.Phases[0].Hook()
		assert.Equal(t, map[string]string{"REGION": "eu-west-1", "MODE": "online"}, hook.Compensate.Env)
		assert.Equal(t, hook.Run.Env, hook.Compensate.Env)
	})

	t.Run("alias expansion is bounded", func(t *testing.T) {
		// 2000 phases, each an alias of one with a 2000-word command:
		// four million values from 18 KB.
		doc := "name: m\nphases:\n  - &p {phase: validate, hook: {run: {command: [" +
			strings.Repeat("a, ", 2000) + "a]}}}\n" + strings.Repeat("  - *p\n", 2000)
		_, err := ParseSpec([]byte(doc))
		var fe FieldErrors
		require.ErrorAs(t, err, &fe)
		require.Len(t, fe, 1)
		assert.Regexp(t, `^phases\[\d+\]\.hook\.run\.command\[\d+\] \(line 3\): the document's aliases expand to more than \d+ values; write the values out instead$`, fe.Error())
	})
}

// fullSpec is what testdata/full.yaml must parse to.
func fullSpec() *Spec {
	return &Spec{
		Name:        "orders-to-postgres",
		Description: "Move the orders service from MySQL to Postgres.\nZero downtime, with a manual cut-over.\n",
		TaskQueue:   "migrations-eu",
		Defaults: PhaseDefaults{
			Timeout:          d("15m"),
			HeartbeatTimeout: d("45s"),
			Retry:            &RetryPolicy{MaxAttempts: 4, InitialInterval: d("2s"), BackoffCoefficient: 1.5, MaxInterval: d("2m")},
		},
		Phases: []PhaseSpec{
			{
				Phase: migration.PhaseValidate, Name: string(migration.PhaseValidate), Timeout: d("15m"), HeartbeatTimeout: d("45s"),
				Retry: &RetryPolicy{MaxAttempts: 1, InitialInterval: d("2s"), BackoffCoefficient: 1.5, MaxInterval: d("2m")},
				Driver: &Hook{Run: &Command{
					Command: []string{"./scripts/validate.sh", "--source", "mysql://orders", "--target", "postgres://orders"},
					Timeout: d("5m"),
				}},
			},
			{
				Phase: migration.PhaseProvision, Name: string(migration.PhaseProvision), Timeout: d("30m"), HeartbeatTimeout: d("1m"),
				Retry: &RetryPolicy{MaxAttempts: 4, InitialInterval: d("2s"), BackoffCoefficient: 1.5, MaxInterval: d("2m")},
				Driver: &Hook{
					Run: &Command{
						Command: []string{"terraform", "apply", "-auto-approve"},
						Env:     map[string]string{"TF_IN_AUTOMATION": "1", "TF_VAR_region": "eu-west-1"},
						Secrets: map[string]SecretRef{"TF_TOKEN_app_terraform_io": {FromFile: "/run/secrets/tf-token"}},
						Dir:     "infra/postgres",
						Timeout: d("25m"),
					},
					Compensate: &Command{
						Command: []string{"terraform", "destroy", "-auto-approve"},
						Dir:     "infra/postgres",
						Timeout: d("5m"),
					},
				},
			},
			{
				Phase: migration.PhaseCopy, Name: string(migration.PhaseCopy), Timeout: d("2h"), HeartbeatTimeout: d("2m"),
				Retry:             &RetryPolicy{MaxAttempts: 10, InitialInterval: d("10s"), BackoffCoefficient: 2, MaxInterval: d("5m")},
				CompensatePartial: true,
				Driver: &Hook{
					Run: &Command{
						Command: []string{"sh", "-c", "pgcopy --from \"$SRC\" --to \"$DST\""},
						Env:     map[string]string{"SRC": "mysql://orders", "DST": "postgres://orders"},
						Secrets: map[string]SecretRef{
							"PGPASSWORD":    {FromEnv: "ORDERS_PG_PASSWORD"},
							"MYSQL_PWD":     {FromEnv: "ORDERS_MYSQL_PASSWORD"},
							"PGSSLROOTCERT": {FromFile: "/etc/ssl/pg-ca.pem"},
						},
						Timeout: d("5m"),
					},
					Compensate: &Command{Command: []string{"./scripts/truncate-target.sh"}, Timeout: d("5m")},
				},
			},
			{
				Phase: migration.PhaseShiftTraffic, Name: string(migration.PhaseShiftTraffic), Timeout: d("15m"), HeartbeatTimeout: d("45s"),
				Retry:    &RetryPolicy{MaxAttempts: 4, InitialInterval: d("2s"), BackoffCoefficient: 1.5, MaxInterval: d("2m")},
				Approval: &Approval{Gate: "cutover", Timeout: d("24h")},
				Driver: &Hook{
					Run:        &Command{Command: []string{"./scripts/shift.sh", "100"}, Timeout: d("5m")},
					Compensate: &Command{Command: []string{"./scripts/shift.sh", "0"}, Timeout: d("1m")},
				},
			},
			{
				Phase: migration.PhaseReconcile, Name: string(migration.PhaseReconcile), Timeout: d("15m"), HeartbeatTimeout: d("45s"),
				Retry:  &RetryPolicy{MaxAttempts: 4, InitialInterval: d("2s"), BackoffCoefficient: 1.5, MaxInterval: d("2m")},
				Driver: &Hook{Run: &Command{Command: []string{"./scripts/reconcile.sh"}, Timeout: d("5m")}},
			},
			{
				Phase: migration.PhaseDecommission, Name: string(migration.PhaseDecommission), Timeout: d("4m"), HeartbeatTimeout: d("45s"),
				Retry:    &RetryPolicy{MaxAttempts: 4, InitialInterval: d("2s"), BackoffCoefficient: 1.5, MaxInterval: d("2m")},
				Approval: &Approval{Gate: "drop-legacy"},
				Driver:   &Hook{Run: &Command{Command: []string{"./scripts/drop-mysql.sh"}, Timeout: d("4m")}},
			},
		},
	}
}

func TestParseSpecAcceptsExample(t *testing.T) {
	spec, err := LoadSpec(filepath.Join("testdata", "full.yaml"))
	require.NoError(t, err)
	assert.Equal(t, fullSpec(), spec)
}

// The examples shipped with the repository are checked in package drivers
// (drivers_test.go), where every driver their phases use is linked in.

func TestSpecJSONRoundTrip(t *testing.T) {
	spec, err := LoadSpec(filepath.Join("testdata", "full.yaml"))
	require.NoError(t, err)

	b, err := json.Marshal(spec)
	require.NoError(t, err)
	js := string(b)
	for _, want := range []string{
		`"timeout":"15m0s"`, `"heartbeatTimeout":"45s"`, `"initialInterval":"2s"`, `"maxInterval":"2m0s"`,
		`"approval":{"gate":"cutover","timeout":"24h0m0s"}`, `"phase":"shift-traffic"`,
		`"secrets":{"MYSQL_PWD":{"fromEnv":"ORDERS_MYSQL_PASSWORD"}`,
	} {
		assert.Contains(t, js, want)
	}

	var back Spec
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, spec, &back)

	// A spec decoded from JSON is still a valid spec.
	assert.Empty(t, back.Check())
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(struct {
		D Duration `json:"d"`
	}{d("1h30m")})
	require.NoError(t, err)
	assert.JSONEq(t, `{"d":"1h30m0s"}`, string(b))

	var got Duration
	require.NoError(t, json.Unmarshal([]byte(`"30s"`), &got))
	assert.Equal(t, 30*time.Second, got.D())
	require.ErrorContains(t, json.Unmarshal([]byte(`30`), &got), `duration must be a string such as "30s"`)
	require.Error(t, json.Unmarshal([]byte(`"30"`), &got))
}

func FuzzParseSpec(f *testing.F) {
	for _, tc := range badSpecs {
		f.Add([]byte(tc.yaml))
	}
	if full, err := os.ReadFile(filepath.Join("testdata", "full.yaml")); err == nil {
		f.Add(full)
	}
	f.Add([]byte("a: &a [*a, *a]\nname: *a\n"))
	f.Add([]byte("name: &n m\nphases:\n  - &p {phase: validate, hook: {run: {command: [*n]}}}\n  - *p\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseSpec(data)
		if err != nil {
			var fe FieldErrors
			if !assert.ErrorAs(t, err, &fe) || !assert.NotEmpty(t, fe) {
				return
			}
			for _, e := range fe {
				assert.NotEmpty(t, e.Message)
			}
			return
		}
		// A spec that parses is a valid workflow input: it survives JSON
		// and still passes its own checks.
		assert.Empty(t, spec.Check())
		b, err := json.Marshal(spec)
		require.NoError(t, err)
		var back Spec
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, spec, &back)
	})
}

// Added columns keep the order the spec gives them: a trial's add:
// {PriceCents, LineTotal} created LineTotal before PriceCents (a map's
// keys sorted), so the target's columns did not read as written.
func TestAddedColumnsKeepTheSpecsOrder(t *testing.T) {
	spec, err := ParseSpec([]byte(`
name: m
stores:
  a: {engine: postgres, dsn: {fromEnv: A}}
  b: {engine: mysql, dsn: {fromEnv: B}}
mappings:
  shop:
    from: a
    to: b
    tables:
      invoice_line:
        add:
          PriceCents: {expr: "unit_price * 100", type: int}
          LineTotal: {expr: "unit_price * quantity", type: "decimal(12,2)"}
          Audit: {expr: "'x'", type: "varchar(1)"}
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	m := spec.Mappings["shop"]
	tb, err := m.Resolve(mapping.SourceTable{Name: "invoice_line", Columns: []string{"id", "unit_price", "quantity"}, Key: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range tb.Columns {
		got = append(got, c.Target)
	}
	if want := "id unit_price quantity PriceCents LineTotal Audit"; strings.Join(got, " ") != want {
		t.Errorf("columns %q, want %q", strings.Join(got, " "), want)
	}
	// The order survives the JSON a run carries.
	js, err := json.Marshal(spec.Mappings["shop"])
	if err != nil {
		t.Fatal(err)
	}
	var back mapping.Spec
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.Tables["invoice_line"].AddOrder; strings.Join(got, " ") != "PriceCents LineTotal Audit" {
		t.Errorf("after JSON: add order %v", got)
	}
}
