// Command godwit is the Godwit CLI: validate, start, watch and steer
// migrations. See `godwit --help`.
package main

import (
	"os"

	"github.com/godwit/godwit/cli"
)

func main() { os.Exit(cli.Execute()) }
