// Command floor is the physical floor of a TOTP login, for `make bench`:
// what a gate cannot avoid doing, and nothing more. It takes the user's
// file lock, reads the state file, rewrites it durably (temp file, fsync,
// rename, fsync of the directory, as the state store does) and execs the
// shell. It is built static (CGO_ENABLED=0) and links only the runtime and
// package syscall, so the gate's rows over this one are the cost of its
// design, not of the machine.
//
//	floor DIR SHELL
//
// DIR holds `lock` and `state.json`; the shell runs as `SHELL -c /bin/true`.
package main

import (
	"os"
	"syscall"
)

func main() {
	if len(os.Args) != 3 {
		die("usage: floor DIR SHELL")
	}
	dir, shell := os.Args[1], os.Args[2]
	lock, err := syscall.Open(dir+"/lock", syscall.O_RDONLY|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	check(err)
	check(syscall.Flock(lock, syscall.LOCK_EX))

	state := dir + "/state.json"
	fd, err := syscall.Open(state, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	check(err)
	buf := make([]byte, 64<<10)
	n, err := syscall.Read(fd, buf)
	check(err)
	syscall.Close(fd)

	tmp := dir + "/state.json.tmp"
	fd, err = syscall.Open(tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o600)
	check(err)
	_, err = syscall.Write(fd, buf[:n])
	check(err)
	check(syscall.Fsync(fd))
	check(syscall.Close(fd))
	check(syscall.Rename(tmp, state))
	d, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	check(err)
	check(syscall.Fsync(d))
	syscall.Close(d)
	syscall.Close(lock)

	argv0 := shell
	for i := len(shell) - 1; i >= 0; i-- {
		if shell[i] == '/' {
			argv0 = shell[i+1:]
			break
		}
	}
	check(syscall.Exec(shell, []string{argv0, "-c", "/bin/true"}, os.Environ()))
}

func check(err error) {
	if err != nil {
		die(err.Error())
	}
}

func die(msg string) {
	os.Stderr.WriteString("floor: " + msg + "\n")
	os.Exit(2)
}
