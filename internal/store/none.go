package store

import (
	"context"
	"errors"
)

// ErrNoLocalState is what None answers to a change: the configuration has
// no local factors (a login_duo file used as a drop-in), so there is no
// state to write.
var ErrNoLocalState = errors.New("this configuration has no local factors (only Duo), so there is no second-factor state to change")

// None is the Store of a configuration without local factors: every user
// is unenrolled and nothing is written, so that no state directory needs
// to exist.
type None struct{}

var _ Store = None{}

// Load reports that the user has no state.
func (None) Load(ctx context.Context, user string) (*UserState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, ErrNotFound
}

// Update refuses: there is nowhere to write.
func (None) Update(context.Context, string, func(*UserState) error) error { return ErrNoLocalState }

// Delete refuses: there is nothing to remove.
func (None) Delete(context.Context, string) error { return ErrNoLocalState }
