package infra

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// PermanentError marks a failure that running the same thing again cannot
// fix (a missing directory or binary, a plan that changed since it was
// approved, a sensitive output asked for): the caller should stop and ask
// a person instead of retrying. Every other error may pass on a retry.
type PermanentError struct {
	Err error
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err, or an error it wraps, is permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// ErrPlanChanged is returned (wrapped, permanent) when a plan made again
// differs from the plan that was approved: what would be applied is not
// what the person at the gate saw.
var ErrPlanChanged = errors.New("the plan changed since it was approved")

// LockedError says the state is locked by someone else: a retry later may
// succeed, and the lock's holder says whom to ask.
type LockedError struct {
	// ID is the lock's ID (for `terraform force-unlock ID`, as a last resort).
	ID string
	// Who, Operation and Created describe the holder, as Terraform reports it.
	Who, Operation, Created string
}

func (e *LockedError) Error() string {
	var b strings.Builder
	b.WriteString("the state is locked by someone else")
	if e.Who != "" {
		fmt.Fprintf(&b, ": %s", e.Who)
	}
	if e.Operation != "" {
		fmt.Fprintf(&b, " (%s", e.Operation)
		if e.Created != "" {
			fmt.Fprintf(&b, " since %s", e.Created)
		}
		b.WriteString(")")
	}
	if e.ID != "" {
		fmt.Fprintf(&b, ", lock ID %s", e.ID)
	}
	return b.String()
}

var lockField = regexp.MustCompile(`(?m)^\s*(ID|Operation|Who|Created):\s*(.*?)\s*$`)

// lockedError recognises Terraform's "Error acquiring the state lock"
// message in a command's error text, or returns nil.
func lockedError(text string) *LockedError {
	if !strings.Contains(text, "Error acquiring the state lock") {
		return nil
	}
	e := &LockedError{}
	for _, m := range lockField.FindAllStringSubmatch(text, -1) {
		switch m[1] {
		case "ID":
			e.ID = m[2]
		case "Operation":
			e.Operation = m[2]
		case "Who":
			e.Who = m[2]
		case "Created":
			e.Created = m[2]
		}
	}
	return e
}
