package compat

import (
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oasdiff/oasdiff/checker"
	"github.com/oasdiff/oasdiff/diff"
	"github.com/oasdiff/oasdiff/load"
)

// CompareOpenAPI compares two OpenAPI 3 documents (files or URLs) with
// oasdiff's backward-compatibility checker and reports every change it
// finds in the same format as a schema comparison: oasdiff's errors are
// breaking, its warnings potentially breaking, its notes non-breaking (or
// additive when something was added).
func CompareOpenAPI(beforePath, afterPath string) (*Report, error) {
	before, err := loadOpenAPI(beforePath)
	if err != nil {
		return nil, err
	}
	after, err := loadOpenAPI(afterPath)
	if err != nil {
		return nil, err
	}
	d, sources, err := diff.GetPathsDiff(diff.NewConfig(), []*load.SpecInfo{before}, []*load.SpecInfo{after})
	if err != nil {
		return nil, fmt.Errorf("compare %s with %s: %w", beforePath, afterPath, err)
	}
	changes := checker.CheckBackwardCompatibilityUntilLevel(checker.NewConfig(checker.GetAllChecks()), d, sources, checker.INFO)
	l := checker.NewDefaultLocalizer()
	r := &Report{Kind: "openapi", Before: beforePath, After: afterPath}
	for _, c := range changes {
		op := strings.TrimSpace(c.GetOperation() + " " + c.GetPath())
		issue := Issue{
			Type:        strings.ReplaceAll(c.GetId(), "-", "_"),
			Severity:    openAPISeverity(c),
			Description: c.GetUncolorizedText(l),
			FieldPath:   op,
			Impact:      openAPIImpact(c),
		}
		if op == "" {
			issue.FieldPath = c.GetSection()
		} else {
			issue.AffectedOperations = []string{op}
		}
		if comment := c.GetComment(l); comment != "" {
			issue.SuggestedMigration = comment
		}
		r.Issues = append(r.Issues, issue)
	}
	r.finish()
	return r, nil
}

// loadOpenAPI loads and validates one document with a loader of its own,
// so two documents with the same name do not share the loader's cache.
func loadOpenAPI(path string) (*load.SpecInfo, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	info, err := load.NewSpecInfo(loader, load.NewSource(path))
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI document %s: %w (it must be an OpenAPI 3 document in YAML or JSON)", path, err)
	}
	if err := info.Spec.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("OpenAPI document %s is not valid: %w", path, err)
	}
	return info, nil
}

func openAPISeverity(c checker.Change) Severity {
	switch c.GetLevel() {
	case checker.ERR:
		return Breaking
	case checker.WARN:
		return PotentiallyBreaking
	}
	if strings.Contains(c.GetId(), "added") && !strings.Contains(c.GetId(), "required") {
		return Additive
	}
	return NonBreaking
}

func openAPIImpact(c checker.Change) string {
	switch c.GetLevel() {
	case checker.ERR:
		return "clients written for the old API fail"
	case checker.WARN:
		return "some clients written for the old API may fail"
	}
	return "none for existing clients"
}
