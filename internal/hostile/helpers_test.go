package hostile

import (
	"fmt"
	"net"
	"os"
	"time"
)

// helperEnv, set in the environment of a copy of this test binary, makes it
// one of the attacker's programs instead of running tests.
const helperEnv = "LOGINGATE_HOSTILE_HELPER"

// runHelper runs the attacker's program named by helper and exits.
//
//	swap LINK A B: point the symlink LINK at A, then at B, and again,
//	each time by an atomic rename, until killed.
//	pglisten SOCKET OUT: a fake PostgreSQL server on the unix socket
//	SOCKET that asks its first client for a clear-text password and
//	writes what it got to OUT; gives up after 10 seconds.
func runHelper(helper string, args []string) {
	switch helper {
	case "pglisten":
		if len(args) != 2 {
			break
		}
		ln, err := net.Listen("unix", args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Chmod(args[0], 0o777)
		go func() { time.Sleep(10 * time.Second); os.Exit(0) }()
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		got := append([]byte(nil), buf[:n]...)
		c.Write([]byte{'R', 0, 0, 0, 8, 0, 0, 0, 3}) // AuthenticationCleartextPassword
		n, _ = c.Read(buf)
		got = append(got, buf[:n]...)
		os.WriteFile(args[1], got, 0o644)
		os.Exit(0)
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
