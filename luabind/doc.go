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
// are removed. string.rep refuses results over 64 MiB; the call stack (4096 frames)
// and data stack (1M slots) are bounded, so runaway recursion ends in a Lua error
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
//	lab.ps{all=, latest=, last=} -> list of Container, newest first
//	lab.images() -> list of Image;  lab.image(ref) -> Image or nil
//	lab.container(ref) -> Container or nil
//	lab.commit(c, ref, {message=, author=, changes=}) -> Image
//	lab.rm(c, ..., {force=});  lab.rmi(img, ..., {force=}) -> {"Untagged: ..", "Deleted: .."}
//	lab.tag(img, ref) -> Image;  lab.import(path, ref, {message=, changes=}) -> Image
//	lab.export(c, path);  lab.bootstrap("busybox") -> Image
//	lab.diff(c) -> list of {kind = "A"|"C"|"D", path = ...};  lab.inspect(x) -> table
//	lab.history(img) -> list;  lab.logs(c) -> stdout, stderr
//
// image is a reference string or an Image; c a Container or a name/ID string. cmd is
// a list (exec form), a string (run by /bin/sh -c) or nil (the image's command).
// Options of run/create: stdin (string), env (list of "K=V" or map), workdir, name,
// rm, hostname, user, entrypoint (string or list), timeout (seconds; the container is
// killed and the call raises), memory, pids_limit, cpus, security_opt, cap_add and
// cap_drop (a string or a list, as the CLI's --security-opt, --cap-add, --cap-drop),
// privileged (boolean), and for create interactive=true. Unknown option names are
// argument errors.
//
// Container fields: id short_id name image command status exit_code stdout stderr
// created started finished (whole seconds since the epoch, as os.time(); nil if not
// yet) and duration (seconds, with fractions);
// methods commit(ref, opts) diff() read(path) exists(path) start{stdin=, timeout=}
// wait() rm{force=} inspect() logs(). stdout/stderr hold the output of the last run or
// start in this state; a container looked up instead shows its whole log. Image
// fields: id short_id tags size created; methods layers() config() history()
// read(path) exists(path) tag(ref) rm{force=} inspect(). read returns nil and a
// message when the file does not exist. tostring of a Container or Image is its
// Docker row; of the lists from ps, images, diff and history the Docker output.
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
// lab.expect(v, label) returns an expectation whose methods check v, raise a
// Failure when the check fails, and return the expectation so checks chain:
//
//	lab.expect(v):eq(x) :ne(x) :is_nil() :not_nil() :truthy() :falsy()
//	  :contains(s_or_item) :not_contains(x) :matches(lua_pattern) :len(n)
//	lab.expect(fn):raises(substring, code)   -- fn must raise; both checks optional
//	lab.expect(c):exit_code(n) :status(s) :stdout(s) :stderr(s)
//	  :stdout_contains(s) :stderr_contains(s) :stdout_matches(p) :stderr_matches(p)
//	  :diff_contains("A /foo") :file(path, content_or_nil) :no_file(path)
//	lab.expect(img):file(path, content_or_nil) :no_file(path) :has_tag(ref)
//	lab.assert_eq(actual, expected, msg);  lab.fail(msg)
//
// eq compares tables by content and containers/images by ID. A Failure names the
// script line that called the check (Where), says what failed (Msg), and gives in
// Detail the expected and actual values, a line diff when either is multi-line, and,
// when the subject is a container or a string one of the last containers printed, how
// that container ended and the last 10 lines of its stdout and stderr.
package luabind
