// Package voice is how logingate words what a user reads: one voice for
// every line a person sees, from the gate, the subcommands and doctor.
//
//	logingate: error: what went wrong, and what it means for the user
//	logingate: warning: what works, but not as the user may expect
//	logingate: hint: what to do next
//
// Lowercase, no final period. The user sees a fixed, helpful text; the
// cause goes to the audit log. Every such line is made here, by Error,
// Warning and Hint (and their f forms); TestNoHandTypedPrefix fails when
// other production code writes the prefix by hand. The functions return
// the line: the caller decides where it goes (the terminal, stderr).
package voice

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// The prefixes, which only this file writes.
const (
	errorPrefix   = "logingate: error: "
	warningPrefix = "logingate: warning: "
	hintPrefix    = "logingate: hint: "
)

// Error is the line that tells the user what went wrong.
func Error(msg string) string { return errorPrefix + msg }

// Errorf is Error with fmt.Sprintf's formatting.
func Errorf(format string, args ...any) string { return Error(fmt.Sprintf(format, args...)) }

// Warning is the line that tells the user what works, but not as they may
// expect.
func Warning(msg string) string { return warningPrefix + msg }

// Warningf is Warning with fmt.Sprintf's formatting.
func Warningf(format string, args ...any) string { return Warning(fmt.Sprintf(format, args...)) }

// Hint is the line that tells the user what to do next.
func Hint(msg string) string { return hintPrefix + msg }

// Hintf is Hint with fmt.Sprintf's formatting.
func Hintf(format string, args ...any) string { return Hint(fmt.Sprintf(format, args...)) }

// OneLine joins a multi-line text (a config error lists every problem it
// found) into one line, for places that hold exactly one: a JSON field, a
// single message.
func OneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// ErrnoText is the system's reason without the path, which the caller names.
func ErrnoText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
