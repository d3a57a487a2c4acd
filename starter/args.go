package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed moves the positional arguments of the command args names to
// after its flags, so `steward pause home --for 2h` works like `steward
// pause --for 2h home` (urfave/cli stops parsing flags at the first
// positional argument).
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	flags, cmds := app.Flags, app.Commands
	i := 1
	// Walk global flags and the command path.
	for i < len(args) {
		a := args[i]
		if isFlag(a) {
			n := flagWidth(flags, a, args[i:])
			out = append(out, args[i:i+n]...)
			i += n
			continue
		}
		next := findCommand(cmds, a)
		if next == nil {
			break
		}
		out = append(out, a)
		flags, cmds = next.Flags, next.Subcommands
		i++
	}
	var positional []string
	for i < len(args) {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case isFlag(a):
			n := flagWidth(flags, a, args[i:])
			out = append(out, args[i:i+n]...)
			i += n
		default:
			positional = append(positional, a)
			i++
		}
	}
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// flagWidth is how many arguments the flag at args[0] spans: 1 for a bool
// flag or --name=value, 2 for a flag that takes the next argument as value.
func flagWidth(flags []cli.Flag, a string, args []string) int {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") {
		return 1
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if _, isBool := f.(*cli.BoolFlag); isBool || len(args) < 2 {
				return 1
			}
			return 2
		}
	}
	return 1
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
