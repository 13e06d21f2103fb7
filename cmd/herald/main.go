// Command herald runs the Herald hub and its companion tools:
//
//	herald serve   run the hub (a Mercure-protocol SSE pub/sub server)
//	herald pub     publish an update to a hub
//	herald sub     watch any SSE stream (or a hub's topics) from a terminal
//	herald bench   load-test a Mercure-protocol hub
//	herald version print the version, VCS revision and Go version
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
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain is main without the process: it runs args and returns the exit
// status. Help was printed on stdout by run (status 0); an error is printed
// here, once, on stderr, with one "herald: " prefix, followed by the
// command's usage when it is a wrong flag (status 2; other errors 1).
func runMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdin, stdout, stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "herald:", errorText(err))
	var wu withUsage
	if errors.As(err, &wu) {
		fmt.Fprint(stderr, "\n", wu.usage)
	}
	return exitCode(err)
}

// errorText is err's message without the "herald: " prefixes of the
// module's shared errors (herald.ErrInvalid, ...), which other layers wrap:
// the message is printed after the program's name already.
func errorText(err error) string {
	msg := strings.TrimPrefix(err.Error(), "herald: ")
	return strings.ReplaceAll(msg, ": herald: ", ": ")
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
  herald version              print the version of this build

Run "herald <command> -h" for the flags of a command.
`

// run dispatches args to a subcommand. It is main without the process and
// without printing errors: tests call it directly. A request for help is
// answered on stdout and returns nil; so does "version".
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return withUsage{usageError{errors.New("no command given")}, usage}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	case "version", "-version", "--version":
		_, err := fmt.Fprint(stdout, versionText())
		return err
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return withUsage{usageError{fmt.Errorf("unknown command %q", args[0])}, usage}
	}
	err := cmd(ctx, args[1:], stdin, stdout, stderr)
	var h helpRequest
	if errors.As(err, &h) {
		_, err = fmt.Fprint(stdout, h.usage)
		return err
	}
	return err
}

// usageError marks errors caused by how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// withUsage is a usage error to be followed by the usage of the command
// (a wrong flag, an unknown command).
type withUsage struct {
	err   usageError
	usage string
}

func (e withUsage) Error() string { return e.err.Error() }
func (e withUsage) Unwrap() error { return e.err }

// helpRequest is the answer to -h or --help: the command's usage, which run
// prints on stdout. It is a flag.ErrHelp.
type helpRequest struct{ usage string }

func (helpRequest) Error() string { return flag.ErrHelp.Error() }
func (helpRequest) Unwrap() error { return flag.ErrHelp }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
