"""`tritonc repl`: the interactive front end of a `ReplSession`.

In: entries read from a terminal (prompt_toolkit: multi-line editing until brackets balance, history in
`$XDG_STATE_HOME/triton_dsl/history`, Triton DSL highlighting, completion of names in scope) or, when
stdin is not a terminal, lines read with `input()` (no prompts, so `tritonc repl < script` prints only
what the entries print). Out: each entry's output; diagnostics and run-time errors on stderr with a caret
into the entry, after which the session goes on. Ctrl-C cancels the entry being typed, Ctrl-D (or `:quit`)
ends the session. Exit code: 0; from a script, 1 when some entry had an error and 101 after an internal
compiler error.

Commands start with `:` (see `HELP`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from .diagnostics import CompileError, render_all
from .repl_session import EntryError, ReplSession

HELP = """\
Enter Triton DSL statements, expressions and items (fn, layer, struct, trait). An entry continues over
several lines until its brackets balance. A final bare expression prints its value (tensors as `print`
shows them, then their type); `let` bindings and definitions persist across entries.

  :type EXPR    the type of EXPR (nothing runs)
  :ir FN        the compiler's IR of function FN
  :llvm FN      the optimized LLVM IR of FN
  :asm FN       the machine code of FN (assembly for this CPU)
  :time EXPR    run EXPR and show how long it took (compilation not included)
  :load FILE    run a file as one entry (its items and top-level statements; `main { }` included)
  :summary [F]  what the session's tensor bindings store (packed bytes, zeros, scales), or file F's
  :reset        forget every binding and definition
  :help         this text
  :quit         leave (also Ctrl-D)
"""

COMMANDS = (":type", ":ir", ":llvm", ":asm", ":time", ":load", ":summary", ":reset", ":help", ":quit")
_OPEN, _CLOSE = "([{", ")]}"


def balanced(text: str) -> bool:
    """Whether an entry is complete: every bracket closed, no string or block comment left open. A
    closing bracket with no opener counts as complete (the parser then reports it)."""
    depth = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                return False
            i = end + 2
            continue
        if ch == '"':
            i += 1
            while i < n and text[i] != '"' and text[i] != "\n":
                i += 2 if text[i] == "\\" else 1
            i += 1
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        i += 1
    return depth <= 0


def history_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "triton_dsl" / "history"


class Repl:
    """Runs entries and commands against a session, writing to `out` / `err`."""

    def __init__(self, session: ReplSession | None = None, *, out: Callable[[str], None] | None = None,
                 err: Callable[[str], None] | None = None, debug: bool = False):
        self.session = session or ReplSession()
        self._out = out or (lambda text: print(text, flush=True))
        self._err = err or (lambda text: print(text, file=sys.stderr, flush=True))
        self.debug = debug
        self.errors = 0
        self.internal_errors = 0
        self.done = False
        self.interactive = False  # set by run_interactive: Ctrl-C during an entry is then deferred

    # -- one entry -------------------------------------------------------------------------------------
    def handle(self, text: str) -> None:
        """Run one entry or command; never raises (except KeyboardInterrupt while reading)."""
        stripped = text.strip()
        if not stripped:
            return
        try:
            with self._deferred_interrupt():
                if stripped.startswith(":"):
                    self._command(stripped)
                else:
                    self._entry(text)
        except CompileError as exc:
            self.errors += 1
            self._err(render_all(exc.diagnostics))
        except KeyboardInterrupt:
            self.errors += 1
            self._err("interrupted")
        except Exception as exc:  # noqa: BLE001 - reported, and the session goes on
            from .runtime.errors import TritonRuntimeError

            if isinstance(exc, TritonRuntimeError):
                self.errors += 1
                self._err(self._render_runtime(exc))
            elif isinstance(exc, EntryError):
                self.errors += 1
                self._err(f"error: {exc}")
            else:  # anything else escaping the session is a bug
                self.internal_errors += 1
                if self.debug:
                    self._err(traceback.format_exc().rstrip())
                summary = (str(exc).strip().splitlines() or ["unexpected failure"])[0]
                self._err(f"internal compiler error: {summary} — this is a bug in triton_dsl, not in your "
                          "entry; start the REPL with --debug for the traceback")
        finally:
            sys.stdout.flush()

    @contextlib.contextmanager
    def _deferred_interrupt(self) -> Iterator[None]:
        """On a terminal, Ctrl-C while an entry runs is held until the entry has finished, then reported.
        Native code cannot be stopped midway, and a KeyboardInterrupt raised inside one of the runtime's
        Python callbacks (program output) would be swallowed by ctypes instead of reaching the loop."""
        if not self.interactive or threading.current_thread() is not threading.main_thread():
            yield
            return
        hits: list[int] = []
        previous = signal.signal(signal.SIGINT, lambda signum, frame: hits.append(signum))
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
            if hits:
                self._err("interrupted: native code cannot be stopped midway; the entry ran to its end")

    def _entry(self, text: str, name: str | None = None) -> None:
        result = self.session.run(text, name=name, echo=True)
        sys.stdout.flush()  # the program's print output comes first
        for note in result.notes:
            self._err(f"note: {note}")
        if result.has_value and not result.printed:
            self._out(repr(result.value))  # a tuple or optional: `print` does not show those yet
        if result.has_value and result.value_type and _shows_type(result.value_type):
            self._out(f": {result.value_type}")

    def _render_runtime(self, exc) -> str:
        from .commands.run import render_runtime_error

        return render_runtime_error(exc, self.session.sources)

    def _command(self, line: str) -> None:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        matches = [c for c in COMMANDS if c.startswith(name)]
        if name not in COMMANDS and len(matches) == 1:
            name = matches[0]  # `:t` for `:type`, `:q` for `:quit`
        if name == ":help":
            self._out(HELP.rstrip())
        elif name == ":quit":
            self.done = True
        elif name == ":reset":
            self.session.reset()
            self._out("session reset")
        elif name in (":type", ":ir", ":llvm", ":asm", ":time", ":load") and not arg:
            raise EntryError(f"{name} needs an argument (see :help)")
        elif name == ":type":
            self._out(self.session.type_of(arg))
        elif name in (":ir", ":llvm", ":asm"):
            self._out(self.session.inspect(name[1:], arg))
        elif name == ":time":
            result = self.session.run(arg, echo=True)
            sys.stdout.flush()
            self._out(f"time: {_seconds(result.run_seconds)} (compiling: {_seconds(result.compile_seconds)})")
        elif name == ":load":
            path = Path(arg).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise EntryError(f"cannot read {arg}: {reason}") from None
            self._entry(text, name=str(arg))
        elif name == ":summary":
            self._out(str(self._summary(arg)))
        else:
            raise EntryError(f"unknown command {name!r} (see :help)")

    def _summary(self, arg: str):
        """`triton_dsl.summary` of file `arg` (a weights file or a program), or of the tensor bindings."""
        import numpy as np

        from .runtime.ternary import TernaryTensor
        from .runtime.weights import WeightsFileError
        from .summarize import summary

        if arg:
            try:
                return summary(Path(arg).expanduser())
            except (OSError, WeightsFileError) as exc:
                raise EntryError(str(exc)) from None
            except CompileError as exc:
                raise EntryError(f"cannot summarize {arg}:\n{render_all(exc.diagnostics)}") from None
        tensors = {n: b.value for n, b in self.session.bindings.items()
                   if isinstance(b.value, (np.ndarray, TernaryTensor))}
        if not tensors:
            raise EntryError("no tensor bindings to summarize (`:summary FILE` for a file)")
        return summary(tensors)

    # -- loops -----------------------------------------------------------------------------------------
    def run_script(self, stream) -> int:
        """Entries from a non-terminal stream: lines are joined until brackets balance."""
        pending: list[str] = []
        for line in stream:
            pending.append(line.rstrip("\n"))
            text = "\n".join(pending)
            if text.strip().startswith(":") and len(pending) == 1:
                pending = []
                self.handle(text)
            elif balanced(text):
                pending = []
                self.handle(text)
            if self.done:
                break
        if pending and "\n".join(pending).strip() and not self.done:
            self.handle("\n".join(pending))  # an unfinished last entry: the parser says what is missing
        if self.internal_errors:
            return 101
        return 1 if self.errors else 0

    def run_interactive(self) -> int:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.lexers import PygmentsLexer

        from .highlight import TritonLexer

        path = history_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            history = FileHistory(str(path))
        except OSError:
            history = InMemoryHistory()
        bindings = KeyBindings()

        @bindings.add("enter")
        def _(event) -> None:
            buffer = event.current_buffer
            text = buffer.text
            if text.strip().startswith(":") or balanced(text):
                buffer.validate_and_handle()
            else:
                buffer.insert_text("\n")

        prompt = PromptSession(history=history, lexer=PygmentsLexer(TritonLexer), completer=_completer(self),
                               key_bindings=bindings, multiline=True, complete_while_typing=False,
                               prompt_continuation=lambda width, line, soft: "... ".rjust(width))
        self.interactive = True
        self._out(f"triton_dsl {_version()} REPL — :help for commands, Ctrl-D to leave")
        while not self.done:
            try:
                text = prompt.prompt(">>> ")
            except KeyboardInterrupt:
                continue  # Ctrl-C: the entry is dropped, a fresh prompt
            except EOFError:
                break
            self.handle(text)
        return 0


def _completer(repl: Repl):
    """A prompt_toolkit completer of names in scope (session bindings and items, the stdlib, keywords and
    types) and, at the start of a line, of the `:` commands (prompt_toolkit is imported only here)."""
    from prompt_toolkit.completion import Completer, Completion

    class NameCompleter(Completer):
        def get_completions(self, document, complete_event):
            if document.text_before_cursor.lstrip().startswith(":") and " " not in document.text:
                word = document.get_word_before_cursor(WORD=True)
                for c in COMMANDS:
                    if c.startswith(word):
                        yield Completion(c, start_position=-len(word))
                return
            word = document.get_word_before_cursor()
            if not word or not (word[0].isalpha() or word[0] == "_"):
                return
            for name in sorted(set(_scope_names(repl))):
                if name.startswith(word) and name != word:
                    yield Completion(name, start_position=-len(word))

    return NameCompleter()


def _scope_names(repl: Repl) -> list[str]:
    from . import stdlib
    from .highlight import KEYWORDS, TYPES

    return repl.session.names() + stdlib.names() + list(KEYWORDS) + list(TYPES)


def _shows_type(type_text: str) -> bool:
    """Tensors show their type after the value (dtype and shape); scalars and strings speak for
    themselves."""
    return type_text.startswith(("Tensor<", "TernaryTensor<")) and not type_text.endswith(", []>")


def _seconds(s: float) -> str:
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.3f} s"


def _version() -> str:
    from . import __version__

    return __version__


def main(session: ReplSession | None = None, *, debug: bool = False, stdin=None) -> int:
    """Run the REPL on stdin: interactive on a terminal, a script otherwise."""
    stream = stdin or sys.stdin
    repl = Repl(session, debug=debug)
    if stream.isatty() and sys.stdout.isatty():
        return repl.run_interactive()
    return repl.run_script(stream)


__all__ = ["Repl", "balanced", "history_path", "main", "HELP"]
