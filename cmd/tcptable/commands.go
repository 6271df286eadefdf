package main

import "strings"

// cmdSet is a set of the command's commands: the listing and the
// subcommands a first argument names. flagDefs says with it which commands
// take each flag.
type cmdSet uint8

const (
	cmdList  cmdSet = 1 << iota // tcptable [flags]
	cmdKill                     // tcptable kill
	cmdServe                    // tcptable serve
	cmdAll   = cmdList | cmdKill | cmdServe
)

// subcommands maps a first argument to its subcommand.
var subcommands = map[string]cmdSet{"kill": cmdKill, "serve": cmdServe}

// name is how messages name command c ("tcptable kill").
func (c cmdSet) name() string {
	for word, sc := range subcommands {
		if c == sc {
			return "tcptable " + word
		}
	}
	return "tcptable"
}

// takes reports whether d is a flag of command c. A flag declared without
// commands is the listing's; kill takes every flag the listing takes
// (refusing, with a reason, those that make no sense for it), and its
// help names them in prose instead of listing them.
func (d *flagDef) takes(c cmdSet) bool {
	cmds := d.cmds
	if cmds == 0 {
		cmds = cmdList
	}
	if cmds&cmdList != 0 {
		cmds |= cmdKill
	}
	return cmds&c != 0
}

// helpedBy reports whether c's --help lists d: the listing's lists its
// flags, a subcommand's the flags declared for it (its help says which of
// the listing's it takes).
func (d *flagDef) helpedBy(c cmdSet) bool {
	return d.cmds&c != 0 || (c == cmdList && d.cmds == 0)
}

// seeHelp is what a usage error of command c points at.
func (c cmdSet) seeHelp() string { return strings.TrimSpace(c.name() + " --help") }

// help returns what --help prints for command c.
func (c cmdSet) help() string {
	switch c {
	case cmdKill:
		return killUsageText()
	case cmdServe:
		return serveUsageText()
	}
	return usageText()
}
