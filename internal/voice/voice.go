// Package voice is how logingate words what a user reads.
package voice

import (
	"errors"
	"io/fs"
	"strings"
)

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
