package main

import (
	"context"
	"errors"
	"io"
)

func runSub(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return errors.New("sub: not implemented yet")
}
