package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// launcherC times one process and reports its CPU time, page faults and
// peak memory. A Go parent cannot measure the peak: Go starts children with
// clone(CLONE_VM|CLONE_VFORK), and Linux records the peak of the address
// space a process leaves at exec, which for such a child is the parent's
// (about 8 MB). The launcher spawns the same way but is a small C program,
// so the floor is its own peak, about 1 MB (the `/bin/true` row). The wall
// time runs from just before the spawn to the reaped exit.
//
// Usage: launcher [-m SRC:DST]... [-u UID:GID[,GID...]] PATH ARGV0 [ARGS...].
// Before the clock starts, -m runs the child in a private mount namespace
// with SRC bound over DST (an nsswitch.conf for one row, never the
// machine's), and -u runs it as UID with primary group GID and the other
// gids as supplementary groups, as sshd hands a login over. It writes
// "wall_ns maxrss_kib status cpu_us minor_faults" to fd 3, which the child
// does not inherit; stdio, the environment and the session pass unchanged.
const launcherC = `#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int fail(const char *what, const char *arg) {
	fprintf(stderr, "launcher: %s %s: %m\n", what, arg);
	return 3;
}

int main(int argc, char **argv) {
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		return 2;
	int i = 1, private = 0, ngid = 0;
	uid_t uid = 0;
	gid_t gids[16];
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		char *arg = argv[i + 1];
		if (strcmp(argv[i], "-m") == 0) {
			char *dst = strchr(arg, ':');
			if (!dst)
				return 2;
			*dst++ = 0;
			if (!private && (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0))
				return fail("private mount namespace", "");
			private = 1;
			if (mount(arg, dst, NULL, MS_BIND, NULL) < 0)
				return fail("bind mount over", dst);
		} else if (strcmp(argv[i], "-u") == 0) {
			char *p = arg;
			uid = strtoul(p, &p, 10);
			while ((*p == ':' || *p == ',') && ngid < 16)
				gids[ngid++] = strtoul(p + 1, &p, 10);
			if (*p || ngid == 0)
				return 2;
		} else
			return 2;
	}
	if (argc - i < 2)
		return 2;
	if (ngid && (setgroups(ngid - 1, gids + 1) < 0 || setgid(gids[0]) < 0 || setuid(uid) < 0))
		return fail("switching to uid", argv[i - 1]);
	struct timespec a, b;
	pid_t pid;
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (posix_spawn(&pid, argv[i], NULL, NULL, argv + i + 1, environ) != 0)
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

// buildLauncher compiles the launcher with the C compiler cgo uses.
func buildLauncher(ctx context.Context, dir string) (string, error) {
	src, out := filepath.Join(dir, "launcher.c"), filepath.Join(dir, "launcher")
	if err := os.WriteFile(src, []byte(launcherC), 0o600); err != nil {
		return "", err
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if b, err := exec.CommandContext(ctx, cc, "-O2", "-Wall", "-o", out, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s launcher.c: %v\n%s", cc, err, b)
	}
	return out, nil
}
