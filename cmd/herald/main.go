// Command herald runs the Herald hub and its companion tools:
//
//	herald serve   run the hub (a Mercure-protocol SSE pub/sub server)
//	herald pub     publish an update to a hub
//	herald sub     watch any SSE stream (or a hub's topics) from a terminal
//	herald bench   load-test a Mercure-protocol hub
//
// Run "herald <command> -h" for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(exitCode(err))
	}
}

// command is one subcommand: it parses its own flags from args and runs until
// done or until ctx is cancelled (Ctrl-C, SIGTERM).
type command func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

var commands = map[string]command{
	"serve": runServe,
	"pub":   runPub,
	"sub":   runSub,
	"bench": runBench,
}

const usage = `Herald: a Server-Sent Events hub that speaks the Mercure protocol.

Usage:
  herald serve [flags]        run the hub
  herald pub [flags]          publish an update
  herald sub [flags] URL      watch an SSE stream
  herald bench [flags]        load-test a hub

Run "herald <command> -h" for the flags of a command.
`

// run dispatches args to a subcommand. It is main without the process: tests
// call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return usageError{errors.New("no command given")}
		}
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	}
	return cmd(ctx, args[1:], stdin, stdout, stderr)
}

// usageError marks errors caused by how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
