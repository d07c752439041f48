package hostile

import (
	"fmt"
	"os"
)

// helperEnv, set in the environment of a copy of this test binary, makes it
// one of the attacker's programs instead of running tests.
const helperEnv = "LOGINGATE_HOSTILE_HELPER"

// runHelper runs the attacker's program named by helper and exits.
//
//	swap LINK A B: point the symlink LINK at A, then at B, and again,
//	each time by an atomic rename, until killed.
func runHelper(helper string, args []string) {
	switch helper {
	case "swap":
		if len(args) != 3 {
			break
		}
		link, targets := args[0], args[1:]
		tmp := link + ".new"
		for i := 0; ; i++ {
			os.Remove(tmp)
			if err := os.Symlink(targets[i%2], tmp); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			if err := os.Rename(tmp, link); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "unknown helper %s %q\n", helper, args)
	os.Exit(2)
}
