// Package debpkg holds the tests of logingate's Debian package (make deb):
// how its version sorts, and what an operator does with it, run for real
// with dpkg, apt and sshd in a throwaway root: install, enroll, log in,
// upgrade, migrate an unprivileged layout, remove and purge. It has no
// code of its own; the package is built by scripts/mkdeb.sh.
package debpkg
