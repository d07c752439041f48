package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// launcherC times one process and reports its CPU time, page faults and
// peak memory.
// It exists because a Go parent cannot measure the peak: Go starts children
// with clone(CLONE_VM|CLONE_VFORK), and Linux records the peak of the
// address space a process leaves at exec, which for such a child is the
// parent's, so every row would read at least the driver's own size (about
// 8 MB). The launcher spawns the same way (posix_spawn) but is a small C
// program, so the floor is its own peak, about 1 MB: the `/bin/true` row
// shows it. The wall time is taken here too, from just before the spawn to
// the reaped exit, without the Go runtime's own work around a child.
//
// Usage: launcher PATH ARGV0 [ARGS...]; it writes "wall_ns maxrss_kib
// status cpu_us minor_faults" to fd 3, which the child does not inherit. stdin, stdout,
// stderr, the environment and the session are passed on unchanged.
const launcherC = `#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
	if (argc < 3 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		return 2;
	struct timespec a, b;
	pid_t pid;
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (posix_spawn(&pid, argv[1], NULL, NULL, argv + 2, environ) != 0)
		return 2;
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &b);
	long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	long long cpu = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	dprintf(3, "%lld %ld %d %lld %ld\n", ns, ru.ru_maxrss, code, cpu, ru.ru_minflt);
	return 0;
}
`

// buildLauncher compiles the launcher with the C compiler cgo uses (the
// logingate build needs one anyway).
func buildLauncher(ctx context.Context, dir string) (string, error) {
	src := filepath.Join(dir, "launcher.c")
	out := filepath.Join(dir, "launcher")
	if err := os.WriteFile(src, []byte(launcherC), 0o600); err != nil {
		return "", err
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if b, err := exec.CommandContext(ctx, cc, "-O2", "-o", out, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s launcher.c: %v\n%s", cc, err, b)
	}
	return out, nil
}
