package lab

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// `lab completion bash|zsh` prints a completion script built from the registered verbs
// and their pflag sets, so it cannot drift from the CLI. Container names and image
// references come from lab itself at completion time (ps/images --format).

func init() {
	register(map[string]*command{
		"completion": {usage: "bash|zsh", short: "Output a shell completion script (source <(lab completion bash))", interspersed: true,
			run: cmdCompletion},
	})
}

// Which verbs take containers and which take images as arguments.
var (
	completesContainers = []string{"start", "stop", "kill", "wait", "rm", "diff", "logs", "export", "commit", "inspect"}
	completesImages     = []string{"run", "create", "history", "rmi", "tag", "images", "inspect"}
	noArgVerbs          = []string{"ps", "version", "info", "fsck", "completion"}
	subverbs            = map[string][]string{
		"system":    {"prune", "check", "df"},
		"container": {"ls", "list", "ps", "rm", "remove", "run", "create", "start", "stop", "kill", "wait", "commit", "diff", "logs", "export", "inspect", "prune"},
		"image":     {"ls", "list", "rm", "remove", "tag", "history", "import", "inspect", "prune"},
		"builder":   {"prune"},
	}
)

// flagWords lists a verb's flags, and those of them that take a value.
func flagWords(c *command) (all, valued []string) {
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	fs.Bool("help", false, "")
	if c.flags != nil {
		c.flags(fs)
	}
	fs.VisitAll(func(f *pflag.Flag) {
		names := []string{"--" + f.Name}
		if f.Shorthand != "" {
			names = append(names, "-"+f.Shorthand)
		}
		all = append(all, names...)
		if f.NoOptDefVal == "" && f.Value.Type() != "bool" {
			valued = append(valued, names...)
		}
	})
	return all, valued
}

func cmdCompletion(ctx context.Context, a *app, args []string) error {
	if err := needArgs(a, args, 1, 1); err != nil {
		return err
	}
	switch args[0] {
	case "bash":
		writeBashCompletion(a.stdout)
	case "zsh":
		// zsh runs the bash function through its bash compatibility layer.
		fmt.Fprint(a.stdout, "#compdef lab\nautoload -U +X bashcompinit && bashcompinit\n")
		writeBashCompletion(a.stdout)
	default:
		return &statusError{code: 1, msg: fmt.Sprintf("lab completion: unsupported shell %q (bash or zsh)", args[0])}
	}
	return nil
}

func writeBashCompletion(w io.Writer) {
	var verbs []string
	for n := range commands {
		verbs = append(verbs, n)
	}
	sort.Strings(verbs)
	var b strings.Builder
	b.WriteString(`# lab completion for bash (lab completion bash); generated from lab's own flag sets.
_lab_containers() { "$1" ps -a --format '{{.Names}}' 2>/dev/null; }
_lab_images() { "$1" images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -v '<none>'; }
_lab() {
	local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" lab="${COMP_WORDS[0]}"
	local verb="${COMP_WORDS[1]}"
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "` + strings.Join(verbs, " ") + ` --help --version" -- "$cur"))
		return
	fi
	case "$verb" in
`)
	for _, parent := range []string{"system", "container", "image", "builder"} {
		fmt.Fprintf(&b, "\t%s)\n\t\tif [ \"$COMP_CWORD\" -eq 2 ]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n", parent, strings.Join(subverbs[parent], " "))
		b.WriteString("\t\tverb=\"${COMP_WORDS[2]}\"\n")
		switch parent {
		case "container":
			b.WriteString("\t\tcase \"$verb\" in ls|list) verb=ps;; remove) verb=rm;; esac\n")
		case "image":
			b.WriteString("\t\tcase \"$verb\" in ls|list) verb=images;; rm|remove) verb=rmi;; esac\n")
		}
		b.WriteString("\t\t;;\n")
	}
	b.WriteString("\tesac\n\tcase \"$verb\" in\n")
	for _, v := range verbs {
		all, valued := flagWords(commands[v])
		fmt.Fprintf(&b, "\t%s)\n\t\tcase \"$prev\" in %s) return;; esac\n\t\tcase \"$cur\" in -*) COMPREPLY=($(compgen -W %q -- \"$cur\")); return;; esac\n",
			v, orNever(valued), strings.Join(all, " "))
		var lists []string
		if contains(completesContainers, v) {
			lists = append(lists, `$(_lab_containers "$lab")`)
		}
		if contains(completesImages, v) {
			lists = append(lists, `$(_lab_images "$lab")`)
		}
		switch {
		case len(lists) > 0:
			fmt.Fprintf(&b, "\t\tCOMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))\n", strings.Join(lists, " "))
		case contains(noArgVerbs, v):
		default:
			b.WriteString("\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n")
		}
		b.WriteString("\t\t;;\n")
	}
	b.WriteString("\tesac\n}\ncomplete -F _lab lab\n")
	io.WriteString(w, b.String())
}

// orNever is a case pattern of the words, or one that matches nothing.
func orNever(words []string) string {
	if len(words) == 0 {
		return "--never-a-flag--"
	}
	return strings.Join(words, "|")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
