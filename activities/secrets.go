package activities

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/redact"
)

// knownSecrets holds every secret value this process has read: each one
// ResolveSecret returned (hook secrets, store DSNs and their passwords,
// gateway tokens), and what the worker's main adds at start (its keyring,
// its Temporal credentials). It is process-wide on purpose: secrets are
// read in every driver and the worker's log writer must hide all of them,
// whichever driver read them.
var knownSecrets = redact.NewSet()

// KnownSecrets returns the process's secret set (see knownSecrets).
func KnownSecrets() *redact.Set { return knownSecrets }

// SecretName names a secret reference the same way on every worker, so
// that a checkpoint sealed on one worker unseals on another.
func SecretName(ref config.SecretRef) string {
	if ref.FromEnv != "" {
		return "env:" + ref.FromEnv
	}
	return "file:" + ref.FromFile
}

// AddEnvironmentSecrets records, at a worker's start, the values of its
// environment variables that are credentials by their name (…_PASSWORD,
// …_TOKEN) or their value (a DSN with a password): a store DSN must be
// redacted even before a phase first reads it.
func AddEnvironmentSecrets(set *redact.Set) {
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if config.LooksLikeSecretName(name) || redact.DSNPassword(value) != "" {
			set.Add("env:"+name, value)
		}
	}
}

// redactResult hides every known secret in what a phase hands back: its
// output and outputs (history, `godwit output`), and seals its checkpoint
// (history, and a resume's input), which the worker unseals.
func redactResult(set *redact.Set, res *PhaseResult) {
	res.Output = set.String(res.Output)
	res.Summary = set.String(res.Summary)
	for k, v := range res.Outputs {
		res.Outputs[k] = set.String(v)
	}
	res.Checkpoint = set.Seal(res.Checkpoint)
}

// redactError returns err with every known secret hidden from its message.
// An application error keeps its type and retryability; its cause, which
// may repeat the secret, is dropped.
func redactError(set *redact.Set, err error) error {
	if err == nil || !set.Contains(err.Error()) {
		return err
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return temporal.NewApplicationErrorWithOptions(set.String(appErr.Message()), appErr.Type(),
			temporal.ApplicationErrorOptions{NonRetryable: appErr.NonRetryable()})
	}
	return errors.New(set.String(err.Error()))
}

// redactProblems hides every secret set knows in preflight problems, which
// may quote what a server answered (a token it echoed back), except the
// DSNs of the spec's SQLite stores: a file path is no credential, and the
// problem must name the file a person has to create.
func redactProblems(set *redact.Set, spec *config.Spec, problems []Problem) {
	paths := map[string]bool{}
	for _, st := range spec.Stores {
		if st.Engine == "sqlite" {
			if v, err := readSecret(st.DSN); err == nil {
				paths[v] = true
			}
		}
	}
	hide := set
	if len(paths) > 0 {
		hide = redact.NewSet()
		for i, v := range set.Values() {
			if !paths[v] {
				hide.Add(strconv.Itoa(i), v)
			}
		}
	}
	for i := range problems {
		problems[i].Message = hide.String(problems[i].Message)
	}
}
