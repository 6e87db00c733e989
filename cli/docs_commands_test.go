package cli

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// docCommand is one `godwit ...` command line found in the docs.
type docCommand struct {
	where string // file:line
	line  string // from "godwit" on
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// godwitPrefix matches the start of a command line in a code block: the CLI
// as installed, or as built into bin/, after an optional shell prompt.
var godwitPrefix = regexp.MustCompile(`^(\$ )?(\./)?(bin/)?godwit `)

// commandWord: what follows "godwit " on a command line, a command (or
// alternatives a|b) or a flag, then a space or the end. Program output that
// starts with "godwit" ("godwit diff: 2.15s", "godwit provision+copy
// drivers ...") does not match.
var commandWord = regexp.MustCompile(`^(-|<|[a-z][a-z-]*(\|[a-z][a-z-]*)*( |$))`)

// docCommands collects the godwit command lines of a Markdown file: lines of
// fenced code blocks and code spans that start with "godwit ".
func docCommands(t *testing.T, path string) []docCommand {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []docCommand
	inBlock := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		where := filepath.Base(path) + ":" + itoa(n)
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inBlock = !inBlock
			continue
		}
		if inBlock {
			if m := godwitPrefix.FindString(trimmed); m != "" && commandWord.MatchString(trimmed[len(m):]) {
				cmds = append(cmds, docCommand{where, "godwit " + trimmed[len(m):]})
			}
			continue
		}
		for _, m := range codeSpan.FindAllStringSubmatch(line, -1) {
			if g := godwitPrefix.FindString(m[1]); g != "" && commandWord.MatchString(m[1][len(g):]) {
				cmds = append(cmds, docCommand{where, "godwit " + m[1][len(g):]})
			}
		}
	}
	return cmds
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// words splits a command line the way a reader would type it, up to the
// end of the godwit command (a pipe, a redirection, a comment, another
// command). Quotes are dropped: only flag names matter here.
func words(line string) []string {
	var out []string
	for _, w := range strings.Fields(line) {
		if w == "|" || w == "&&" || w == ";" || w == "||" || w == "\\" || strings.HasPrefix(w, "#") ||
			strings.HasPrefix(w, ">") || strings.HasPrefix(w, "2>") {
			break
		}
		out = append(out, strings.Trim(w, `"'(),.`))
	}
	return out
}

// checkDocCommand walks line's words down the command tree of root and
// returns what does not exist: an unknown subcommand or flag.
func checkDocCommand(root *cobra.Command, line string) []string {
	ws := words(line)[1:] // after "godwit"
	if len(ws) > 0 && strings.Contains(ws[0], "|") {
		// `godwit approve|pause|resume`: each alternative in turn.
		var problems []string
		for _, alt := range strings.Split(ws[0], "|") {
			problems = append(problems, checkDocCommand(root, "godwit "+alt+" "+strings.Join(ws[1:], " "))...)
		}
		return problems
	}
	cmd := root
	var problems []string
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		if w == "" {
			continue
		}
		if strings.HasPrefix(w, "--") {
			name, _, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
			name = strings.TrimRight(name, "]")
			if name == "" || name == "help" || strings.ContainsAny(name, "<>") {
				continue
			}
			if cmd.Flags().Lookup(name) == nil && cmd.InheritedFlags().Lookup(name) == nil {
				problems = append(problems, cmd.CommandPath()+" has no flag --"+name)
			}
			continue
		}
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "[") {
			continue // a shorthand, or an optional part of a synopsis
		}
		// A positional word: a subcommand while cmd has any, else an argument.
		if !cmd.HasSubCommands() {
			continue
		}
		if sub, _, err := cmd.Find([]string{w}); err == nil && sub != cmd {
			cmd = sub
			continue
		}
		if cmd == root {
			problems = append(problems, "godwit has no command "+w)
			return problems
		}
	}
	return problems
}

// TestDocsNameOnlyExistingCommandsAndFlags: every `godwit ...` command line
// that README.md and docs/*.md show (in code spans and code blocks) uses
// commands and --flags that the CLI has, so a reader who copies one does not
// meet "unknown command" or "unknown flag".
func TestDocsNameOnlyExistingCommandsAndFlags(t *testing.T) {
	root := NewRootCommand(io.Discard, io.Discard)
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"../README.md"}, files...)
	checked := 0
	for _, f := range files {
		for _, c := range docCommands(t, f) {
			checked++
			for _, p := range checkDocCommand(root, c.line) {
				t.Errorf("%s: %q: %s", c.where, c.line, p)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("found only %d godwit command lines in README.md and docs/*.md; is the scan broken?", checked)
	}
	t.Logf("checked %d godwit command lines", checked)
}

// TestCheckDocCommandCatchesWrongOnes keeps the walk honest: it must
// reject what the CLI does not have and accept what it does.
func TestCheckDocCommandCatchesWrongOnes(t *testing.T) {
	root := NewRootCommand(io.Discard, io.Discard)
	for _, bad := range []string{
		"godwit frobnicate demo",
		"godwit status demo --no-such-flag",
		"godwit approve demo --gate go-live --bogus=1",
		"godwit repair demo",
		"godwit pause|frob demo",
	} {
		if len(checkDocCommand(root, bad)) == 0 {
			t.Errorf("checkDocCommand accepts %q", bad)
		}
	}
	for _, good := range []string{
		"godwit status demo --watch --format team",
		"godwit approve demo --gate go-live --address localhost:7233",
		"godwit start -f spec.yaml --dry-run | tee out",
		"godwit approve|pause|resume|rollback",
	} {
		if p := checkDocCommand(root, good); len(p) != 0 {
			t.Errorf("checkDocCommand rejects %q: %v", good, p)
		}
	}
}
