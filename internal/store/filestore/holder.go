package filestore

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockHolder returns the process that holds the flock on the file open as
// fd, read from /proc/locks by the file's device and inode, and a few words
// on it ("logingate, stopped"); 0 when none is found. It names the process
// to the administrator whose wait gave up, so that a stopped login can be
// found and ended.
func lockHolder(fd int) (pid int, what string) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0, ""
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	id := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 1234 fe:00:9978432 0 EOF"; waiters
		// are listed after their holder with "->".
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != id {
			continue
		}
		if pid, err = strconv.Atoi(fields[4]); err != nil || pid <= 0 {
			return 0, ""
		}
		return pid, describeProcess(pid)
	}
	return 0, ""
}

// describeProcess returns a process's command name and, when it is
// stopped, says so: "logingate, stopped". "" when it cannot be read.
func describeProcess(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// "1234 (comm) S ...": comm may hold spaces and parentheses.
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return ""
	}
	what := sanitizeComm(s[open+1 : end])
	if state := s[end+2]; state == 'T' || state == 't' {
		what += ", stopped"
	}
	return what
}

// sanitizeComm keeps a command name (which its owner chose) to printable
// ASCII.
func sanitizeComm(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
