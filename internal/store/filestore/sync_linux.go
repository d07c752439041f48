package filestore

import "golang.org/x/sys/unix"

// syncFS flushes the file system holding fd.
func syncFS(fd int) error { return unix.Syncfs(fd) }
