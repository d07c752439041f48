// Command logingate is a second-factor gate for SSH: sshd runs it as
// ForceCommand after accepting a public key; it asks for a second factor and
// then execs the session's command or login shell. See logingate(1).
package main

import (
	"os"

	"github.com/logingate/logingate/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Environ(), os.Stdout, os.Stderr))
}
