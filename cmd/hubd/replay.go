package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/process"
	"github.com/hubd/hubd/host/wasm"
)

// Exit codes of hubd replay: 0 when every decision agrees, exitDiffer when
// one differs, exitConfig for a usage error, a tape that cannot be read or
// plugins that do not load.
const exitDiffer = 1

// replayUsage is the replay subcommand's help.
const replayUsage = `usage: hubd replay -tape FILE -plugins DIR [-v]

Runs each hook call recorded on the tape (plugins.tape) through the plugins
of DIR, with their clock at the recorded time, and prints each decision
that differs from the recorded one. Exits 0 when all agree, 1 when one
differs, 2 for a usage error, a tape that cannot be read or plugins that
do not load.
`

// replayCommand is "hubd replay": args are those after "replay".
func replayCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hubd replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, replayUsage) }
	tape := fs.String("tape", "", "the tape `file` to replay")
	dir := fs.String("plugins", "", "the plugin `directory` to replay it through")
	verbose := fs.Bool("v", false, "log the plugins' output and the host's warnings to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	if *tape == "" || *dir == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, replayUsage)
		return exitConfig
	}
	f, err := os.Open(*tape)
	if err != nil {
		fmt.Fprintf(stderr, "hubd replay: %v\n", err)
		return exitConfig
	}
	defer f.Close()
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	rep, err := host.Replay(ctx, f, *dir, host.ReplayOptions{Logger: logger, Runtimes: replayRuntimes})
	for _, d := range rep.Differences {
		fmt.Fprintln(stdout, d)
	}
	if err != nil {
		fmt.Fprintf(stderr, "hubd replay: %v (after %d records)\n", err, rep.Records)
		return exitConfig
	}
	if more := rep.Differ - len(rep.Differences); more > 0 {
		fmt.Fprintf(stdout, "... and %d more\n", more)
	}
	fmt.Fprintf(stdout, "%d records replayed, %d differ\n", rep.Records, rep.Differ)
	if rep.Differ > 0 {
		return exitDiffer
	}
	return exitOK
}

// replayRuntimes are hubd's runtimes with the replay's clock.
func replayRuntimes(c host.Clock) map[string]host.Runtime {
	return map[string]host.Runtime{
		"js":      js.Runtime{Clock: c},
		"wasm":    wasm.New(wasm.WithClock(c)),
		"process": &process.Runtime{},
	}
}

// runReplay is "hubd replay" as main runs it, stopped by an interrupt.
func runReplay(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return replayCommand(ctx, args, os.Stdout, os.Stderr)
}
