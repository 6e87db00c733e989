package config

import (
	"path/filepath"
	"regexp"
	"strings"
)

// shellRef is a shell reference to a variable: $NAME or ${NAME}.
var shellRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// shells are the programs that expand $NAME in their script.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "ash": true, "busybox": true}

// checkShellRefs refuses an argument that refers to a variable the hook
// gets ($NAME of its secrets or env, $GODWIT_...) in a command that no
// shell runs: the program would get the text "$NAME", not the value — a
// request sent with "Authorization: Bearer $TOKEN" verbatim, a login that
// fails. Arguments from a shell on (sh -c '...', bash script.sh) are the
// shell's to expand.
func checkShellRefs(add addFunc, path string, c *Command) {
	for i, arg := range c.Command {
		if shells[filepath.Base(arg)] {
			return
		}
		for _, m := range shellRef.FindAllStringSubmatch(arg, -1) {
			name := m[1]
			_, secret := c.Secrets[name]
			_, plain := c.Env[name]
			if secret || plain || strings.HasPrefix(name, "GODWIT_") {
				add(path+".command["+itoa(i)+"]", "refers to %s, but no shell runs this command, so the program gets the text %q, not its value: "+
					"run it through one (command: [sh, -c, '%s ... \"$%s\"']) or have the program read %s from its environment",
					m[0], m[0], filepath.Base(c.Command[0]), name, name)
				break
			}
		}
	}
}
