// Package luabind is the Lua API over runtime/engine: the `lab` module, its userdata
// types, errors, the sandbox and the assertions. It is the only package that touches
// gopher-lua; package lab runs scripts, scenarios and the REPL on states made here.
//
// # States
//
// NewState makes a sandboxed LState with the module preloaded (require("lab")) and
// set as the global `lab`. One state belongs to one goroutine. Every Go function
// passes L.Context() to the engine, so cancelling it (Ctrl-C, a scenario timeout)
// kills the running container, and the VM itself stops at its next instruction.
//
// The sandbox opens package, base, table, string and math, a small os (time, clock,
// date, getenv, difftime) and an io with only write (io.write, io.stdout:write,
// io.stderr:write, going to Options.Stdout/Stderr, as print does). dofile and loadfile
// are removed. Lua patterns are matched by pattern.go, which the state's context stops
// while it backtracks. Under SetContext a state also has a memory cap (memory.go:
// the process's live heap, polled). string.rep refuses results over 64 MiB; the call
// stack (4096 frames) and data stack (1M slots) are bounded, so runaway recursion ends
// in a Lua error
// ("lua callstack overflow"). assert raises a non-string message as it is, so
// assert(pcall(lab.run, ...)) keeps the lab error. Options.Unsafe opens io, os,
// coroutine and debug fully.
//
// Run scripts with DoFile, DoString or PCall of this package (or wrap calls in
// Protect): gopher-lua has paths where a data-stack overflow panics from inside its
// own recovery, which would otherwise take the whole program down. Such an error
// leaves the state unusable; close it.
//
// # Module
//
//	lab.run(image, cmd, opts) -> Container   create, start, wait (a non-zero exit is data)
//	lab.create(image, cmd, opts) -> Container (status "created")
//	lab.spawn(image, cmd, opts) -> Session    a running container to talk to
//	lab.ps{all=, latest=, last=} -> list of Container, newest first
//	lab.images() -> list of Image;  lab.image(ref) -> Image or nil
//	lab.container(ref) -> Container or nil
//	lab.commit(c, ref, {message=, author=, changes=}) -> Image
//	lab.rm(c, ..., {force=});  lab.rmi(img, ..., {force=}) -> {"Untagged: ..", "Deleted: .."}
//	lab.tag(img, ref) -> Image;  lab.import(path, ref, {message=, changes=}) -> Image
//	lab.export(c, path);  lab.bootstrap("busybox") -> Image
//	lab.build{context=, dockerfile=, files=, tag=, args=, target=, no_cache=} -> Image
//	lab.diff(c) -> list of {kind = "A"|"C"|"D", path = ...};  lab.inspect(x) -> table
//	lab.history(img) -> list;  lab.logs(c) -> stdout, stderr
//	lab.pull(ref [, opts]) -> Image;  lab.push(ref [, opts]) -> Image (digest = the manifest's)
//	lab.save(path, ref, ...) writes a docker-save archive;  lab.load(path) -> list of Image
//	lab.sleep(seconds)
//	lab.read_file(path) -> string;  lab.fixture(name) -> absolute path of testdata/name
//	lab.skip(reason);  lab.skip_unless{root=, cgroup="v1"|"v2", image=, tool=}
//	lab.cases(name, list, fn)   one case name/<elem.name or index> per element: fn(elem)
//	lab.exit(code)              end the script (or scenario: 0 passes) with code
//	lab.scrub(s [, {[pattern] = repl}]) -> s with ids, digests, times, "ago"s and
//	                            durations replaced by numbered placeholders (<id1>...)
//	lab.lineage(image) -> {image=, parent=, container=, container_name=, ancestors={...}}
//	                            where an image came from (nil when absent): the image it
//	                            was made on, the container it was committed from
//	lab.tree() -> text          lab tree's family tree of images and containers
//	lab.version                 the API's version, "1"
//
// image is a reference string or an Image; c a Container or a name/ID string. cmd is
// a list (exec form), a string (run by /bin/sh -c) or nil (the image's command).
// Options of run/create: stdin (string), env (list of "K=V" or map), workdir, name,
// rm, hostname, user, entrypoint (string or list), timeout (seconds; the container is
// killed and the call raises), tty, detach, memory (bytes or "64m"), pids_limit, cpus
// (a fraction of CPUs), pull ("missing", "always" or "never"; scripts never pull unless
// asked), security_opt, cap_add and cap_drop (a string or a list, as the CLI's
// --security-opt, --cap-add, --cap-drop), privileged (boolean), and for create
// interactive=true. spawn takes env, workdir,
// name, rm, hostname, user, entrypoint, tty, rows, cols, memory, pids_limit, cpus.
// Unknown option names are argument errors. Relative host paths (import, export,
// build's context and dockerfile, read_file, fixture) resolve against the script's
// directory (one that names nothing there but exists from the working directory keeps
// that meaning).
//
// build: context is a directory (the Dockerfile in it unless dockerfile names one),
// files = {[path] = content} a throwaway context, dockerfile a path or the text of a
// Dockerfile, tag a ref or a list, args = {NAME = value}, target a stage, no_cache.
//
// Container fields: id short_id name image command status exit_code stdout stderr
// created started finished (whole seconds since the epoch, as os.time(); nil if not
// yet) and duration (seconds, with fractions);
// methods commit(ref, opts) diff() read(path) exists(path) start{stdin=, timeout=}
// wait() rm{force=} inspect() logs(). stdout/stderr hold the output of the last run or
// start in this state; a container looked up instead shows its whole log. Image
// fields: id short_id tags size created digest (the registry's manifest digest, for a
// pulled or pushed image) repo_digests; methods layers() config() history()
// read(path) exists(path) tag(ref) rm{force=} inspect(). config() returns cmd
// entrypoint env workdir user stop_signal labels exposed_ports author architecture os.
// read returns nil and a message when the file does not exist. Reading a field that
// does not exist raises "no field 'exitcode' on Container (did you mean exit_code?)".
// tostring of a Container or Image is its Docker row; of the lists from ps, images,
// diff and history the Docker output.
//
// Session (from spawn): send(text), expect(pattern [, seconds]) -> the match and its
// captures (fails with the output so far when the pattern does not come in time or the
// container exits first), close() (end of input), wait([seconds]) -> Container,
// kill(), output() -> everything printed so far.
//
// print shows plain tables as the REPL does (sorted keys, nested), not "table: 0x...".
//
// # Errors
//
// Wrong argument types raise the usual "bad argument #n to f (...)". Failed
// operations raise an Error userdata: err.message ("lab.run: no such image:
// nope:latest"), err.code (the CLI's exit status: 125 lab failure, 126 cannot invoke,
// 127 not found, 1 for other verbs), err.where ("file:line") and err.container when
// the operation made one; tostring(err) is the message. Lookups (lab.image,
// lab.container) return nil for "not found". AsFailure and ErrorCode read these back
// from the error L.DoFile or L.PCall returns.
//
// # Assertions
//
// lab.expect(v, label) (or lab.expect(v, {label=, level=}): level 2 names the line
// that called the helper doing the check) returns an expectation whose methods check v, raise a
// Failure when the check fails, and return the expectation so checks chain:
//
//	lab.expect(v):eq(x) :ne(x) :is_nil() :not_nil() :truthy() :falsy()
//	  :contains(s_or_item) :not_contains(x) :matches(lua_pattern) :len(n)
//	lab.expect(fn):raises(substring, code)   -- fn must raise; both checks optional
//	lab.expect(c):exit_code(n) :status(s) :stdout(s) :stderr(s)
//	  :stdout_contains(s) :stderr_contains(s) :stdout_matches(p) :stderr_matches(p)
//	  :diff_contains("A /foo") :file(path, content_or_nil) :no_file(path)
//	lab.expect(img):file(path, content_or_nil) :no_file(path) :has_tag(ref)
//	lab.expect(text_or_value):golden(name)   equal to testdata/<script>/<name>.golden
//	  beside the script (a value as print shows it); lab test -update writes the file
//	lab.assert_eq(actual, expected, msg);  lab.fail(msg)
//
// eq compares tables by content and containers/images by ID. A Failure names the
// script line that called the check (Where), says what failed (Msg), and gives in
// Detail the expected and actual values, a line diff when either is multi-line, and,
// when the subject is a container or a string one of the last containers printed, how
// that container ended and the last 10 lines of its stdout and stderr.
package luabind
