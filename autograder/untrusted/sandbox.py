"""Run a student's notebook code in a process of its own and answer the grader's calls.

nbgrader runs student code in the same kernel as the tests that judge it,
so a student can monkeypatch whatever a test relies on. The verdict that
counts is therefore reached elsewhere: the grader (:mod:`autograder.remote`)
keeps torch and the checks in its own process, where no student code ever
runs, and only *calls* the student's ``dropout``/``Dropout`` here, getting
tensors back. Whatever student code does to torch, to the grading library
or to Python inside the sandbox changes nothing the grader compares with.

Processes:

* the **zygote** (:mod:`.zygote`), started once per grading
  process, imports torch, IPython and this library and then waits; it never
  runs student code;
* a **sandbox**, forked from the zygote per submission (milliseconds, no
  second ``import torch``), enters the jail (:mod:`.jail`) in a private copy
  of the notebook's folder, applies :mod:`.limits`, runs the
  notebook's cells in an IPython shell with its output thrown away, then
  answers requests on a socket of its own until the grader hangs up.

Messages use :mod:`.wire` (JSON and raw tensor bytes, never pickle).
"""
from __future__ import annotations

import itertools
import os
import signal
import socket
import time

from . import torch_dropout_off, wire
from .zygote import Zygote

# --- inside the sandbox -------------------------------------------------------------


def _error_reply(error: BaseException) -> dict:
    """Describe an exception for the grader: the student's, or one of a check's verdicts."""
    from ..subject import CheckFailed, StudentError

    if isinstance(error, CheckFailed):
        return {"error": {"kind": "check", "message": str(error)}}
    inner, call = (error.error, error.call) if isinstance(error, StudentError) else (error, "")
    try:
        message = str(inner)[:2000]
    except BaseException:  # noqa: BLE001 - a student's exception whose __str__ raises
        message = f"<{type(inner).__name__} that cannot be printed>"
    return {"error": {"kind": "student", "call": str(call)[:500],
                      "types": [c.__name__ for c in type(inner).__mro__], "message": message}}


class _Server:
    """The sandbox's side: a namespace from the notebook and the objects made from it."""

    def __init__(self, sock: socket.socket, device: str):
        import torch

        from ..subject import FunctionSubject, ModuleSubject

        self.sock, self.torch, self.device = sock, torch, torch.device(device)
        # One thread: a forked child would otherwise start torch's thread pool on its first
        # large tensor (tens of ms per sandbox), and grading runs sandboxes side by side.
        torch.set_num_threads(1)
        self.kinds = {"function": FunctionSubject, "module": ModuleSubject}
        self.shell = None
        self.subjects: dict[int, object] = {}
        self.modules: dict[int, tuple] = {}
        self.graphs: dict[int, tuple] = {}
        self.graph_ids = itertools.count()

    def _input(self, x, requires_grad: bool):
        """(leaf, x as the student gets it, a copy to tell whether the call changed x)."""
        before = x.detach().clone()
        if requires_grad:
            leaf = x.detach().requires_grad_()
            return leaf, leaf * 1, before
        return None, x, before

    def _tensor_reply(self, out, x, leaf, before) -> dict:
        """The output, and x only if the call changed it: each tensor crosses once."""
        reply = {"out_is_input": out is x, "requires_grad": bool(out.requires_grad)}
        if out is not x:
            reply["out"] = out.detach()
        if out is x or not self.torch.equal(x.detach(), before):
            reply["x_after"] = x.detach()
        if leaf is not None and out.requires_grad:
            key = next(self.graph_ids)  # graphs are dropped after use: no reuse of len()
            self.graphs[key] = (leaf, out)
            reply["graph"] = key
        return reply

    # One method per request; each returns the reply's fields.

    def op_load(self, cells: list[str]) -> dict:
        from IPython.core.interactiveshell import InteractiveShell

        self.shell = InteractiveShell.instance()
        failed = []
        for index, source in enumerate(cells):
            result = self.shell.run_cell(source, store_history=False, silent=True)
            if not result.success:
                error = result.error_in_exec or result.error_before_exec
                failed.append(f"cell {index}: {type(error).__name__}: {str(error)[:200]}")
        return {"failed": failed}

    def op_subject(self, kind: str, name: str, label: str = "") -> dict:
        impl = self.shell.user_ns.get(name) if self.shell else None
        if impl is None or not callable(impl):
            return {"missing": f"your notebook defines no {name!r}" if impl is None
                    else f"{name!r} in your notebook is a {type(impl).__name__}, not callable"}
        key = len(self.subjects)
        # Unwatched: here torch's dropout is switched off at the dispatcher (torch_dropout_off),
        # whose records the grader reads; a watch in this process would only cost time.
        self.subjects[key] = self.kinds[kind](impl, watched=False, label=str(label)[:40])
        return {"id": key}

    def op_seed(self, seed: int) -> dict:
        self.torch.manual_seed(seed)
        return {}

    def op_call(self, subject: int, x, p, training: bool, inplace: bool, on: str,
                requires_grad: bool, grad_mode: str = "grad") -> dict:
        from ..subject import GRAD_MODES

        leaf, x, before = self._input(x, requires_grad)
        out = self.subjects[subject](x, p, training, inplace, on=on,
                                     grad_mode=grad_mode if grad_mode in GRAD_MODES else "grad")
        return self._tensor_reply(out, x, leaf, before)

    def op_warned(self, subject: int, x, p, training: bool) -> dict:
        _, x, before = self._input(x, requires_grad=False)
        out, seen = self.subjects[subject].warned(x, p, training)
        return {**self._tensor_reply(out, x, None, before), "warnings": [str(w)[:100] for w in seen[:16]]}

    def op_probe(self, subject: int, x, p, training: bool, tangent, v) -> dict:
        found = self.subjects[subject].probe(x, p, training, tangent, v)
        return {k: (t.detach() if isinstance(t, self.torch.Tensor) else t) for k, t in found.items()
                if t is not None}

    def op_state(self, subject: int) -> dict:
        return {"state": self.subjects[subject].state()}

    def op_backward(self, subject: int, graph: int, grad, call: str) -> dict:
        leaf, out = self.graphs.pop(graph)
        # grad(sum(out * g)) rather than grad(out, grad_outputs=g): the same gradient, and
        # torch's handling of an explicit grad tensor imports sympy (0.6 s) on first use.
        grads = self.subjects[subject].run(
            lambda: self.torch.autograd.grad((out * grad).sum(), leaf, allow_unused=True), call)
        return {"grad": grads[0]}

    def op_invoke(self, subject: int, x, args: list, kwargs: dict) -> dict:
        _, x, before = self._input(x, requires_grad=False)
        out = self.subjects[subject].invoke(x, tuple(args), kwargs)
        return self._tensor_reply(out, x, None, before)

    def op_repeat(self, subject: int, x, p, n: int) -> dict:
        return {"out": self.subjects[subject].repeat(x, p, min(int(n), 4096)).detach()}

    def op_make(self, subject: int, args: list, kwargs: dict) -> dict:
        module = self.subjects[subject].make(*args, **kwargs)
        key = len(self.modules)
        self.modules[key] = (subject, module)
        return {"module": key, "training": bool(getattr(module, "training", False))}

    def op_train(self, module: int, mode: bool, call: str) -> dict:
        subject, instance = self.modules[module]
        returned = self.subjects[subject].run(lambda: instance.train(mode), call)
        return {"training": bool(getattr(instance, "training", False)), "returned_self": returned is instance}

    def op_forward(self, module: int, x, call: str, requires_grad: bool) -> dict:
        subject, instance = self.modules[module]
        leaf, x, before = self._input(x, requires_grad)
        out = self.subjects[subject].run(lambda: instance(x), call)
        if not isinstance(out, self.torch.Tensor):
            from ..subject import CheckFailed
            raise CheckFailed(f"{call} returned {type(out).__name__}, not a tensor")
        return self._tensor_reply(out, x, leaf, before)

    def op_set(self, module: int, name: str, value) -> dict:
        subject, instance = self.modules[module]
        self.subjects[subject].set(instance, name, value)
        return {}

    def op_describe(self, subject: int, args: list, kwargs: dict) -> dict:
        return {"info": self.subjects[subject].describe(*args, **kwargs)}

    def op_copies(self, subject: int, args: list) -> dict:
        return {"copies": str(self.subjects[subject].copies(*args))[:2000]}

    def op_weights(self, module: int) -> dict:
        subject, instance = self.modules[module]
        state = self.subjects[subject].run(lambda: dict(instance.state_dict()), "model.state_dict()")
        return {"weights": {str(k)[:200]: v.detach().cpu() for k, v in list(state.items())[:64]
                            if isinstance(v, self.torch.Tensor)}}

    def op_passes(self, module: int, x, n: int) -> dict:
        """``n`` forward passes of one model on copies of ``x``, on the CPU, with autograd on
        (as in ordinary use); the outputs stacked and detached."""
        subject, instance = self.modules[module]
        x = x.cpu()

        def passes():
            model = instance.cpu()
            return self.torch.stack([model(x.clone()).detach() for _ in range(min(int(n), 1024))])
        return {"out": self.subjects[subject].run(passes, "forward")}

    def op_pipeline(self, model: str, layer: str, x) -> dict:
        from ..pipeline import describe_pipeline

        ns = self.shell.user_ns if self.shell else {}
        if model not in ns or layer not in ns:
            return {"missing": f"your notebook defines no {model if model not in ns else layer!r}"}
        return {"info": describe_pipeline(ns[model], ns[layer], x)}

    def serve(self) -> None:
        while True:
            try:
                request = wire.receive(self.sock, self.device)
            except (wire.WireError, OSError):
                return
            op = request.pop("op", "")
            try:
                reply = getattr(self, f"op_{op}")(**request)
            except BaseException as error:  # noqa: BLE001 - SystemExit and all: a verdict
                reply = _error_reply(error)
            # Routes to torch's dropout count also when the call then raised.
            subject = (self.modules.get(request["module"], (None,))[0] if "module" in request
                       else request.get("subject"))
            if subject in self.subjects:
                reply["routes"] = self.subjects[subject].routes
            try:
                pieces = wire.encode_pieces(reply)
            except BaseException as error:  # noqa: BLE001 - e.g. a forward that returned a list
                pieces = wire.encode_pieces(_error_reply(error))
            try:
                wire.send_pieces(self.sock, pieces)
            except OSError:
                return


def become_sandbox(sock: socket.socket, records: int, jail_spec: dict | None = None,
                   ready: int | None = None, torch_dropout: bool = False) -> None:
    """In a child forked by the zygote: cut loose from it, jail, limit, silence, switch
    torch's dropout off (naming each call of it on ``records``), serve, exit.

    ``torch_dropout`` leaves torch's dropout on, for the checks that grade how a model
    calls it (dropout_family's Part 3); the jail and limits are the same."""
    from . import jail, limits, torch_dropout_off

    os.setsid()  # its own process group: the grader kills it with everything it started
    if jail_spec:
        jail.enter(jail_spec, keep_fds=[sock.fileno(), records], ready=ready)
    limits.apply(die_with_parent=True)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if not torch_dropout:
        torch_dropout_off.switch_off(records)
    code = 0
    try:
        request = wire.receive(sock)
        _Server(sock, request["device"]).serve()
    except BaseException:  # noqa: BLE001 - nothing to report to: the grader sees the exit
        code = 1
    os._exit(code)


# --- in the grader -----------------------------------------------------------------

#: A reply may hold up to this many times the elements, and the bytes, of the tensors its
#: request sent (``n`` times more for ``repeat``): a wrong shape or dtype is a verdict the
#: checks give; anything larger is refused before it is read.
REPLY_FACTOR = 4
#: ... and at least this many elements and bytes, whatever the request held.
REPLY_FLOOR = 1 << 20
#: JSON a reply may carry: names, messages, a repr.
REPLY_HEADER = 256 * 1024
#: Longest string a reply may hold.
REPLY_TEXT = 10_000
#: Most routes to torch's dropout one reply may name (the watch names a handful at most).
REPLY_ROUTES = 16


def reply_budget(fields: dict) -> wire.Budget:
    """What the reply to a request with these fields may cost the grader to read."""
    import torch

    tensors = [v for v in fields.values() if isinstance(v, torch.Tensor)]
    copies = max(1, int(fields.get("n", 1)))
    elements = REPLY_FACTOR * copies * max((t.numel() for t in tensors), default=0)
    nbytes = REPLY_FACTOR * copies * sum(t.untyped_storage().nbytes() for t in tensors)
    return wire.Budget(REPLY_HEADER, max(nbytes, REPLY_FLOOR), max(elements, REPLY_FLOOR))


def _tensor_reply() -> dict:
    import torch

    return {"out_is_input": bool, "requires_grad": bool, "out": torch.Tensor,
            "x_after": torch.Tensor, "graph": int}


#: The fields a reply to each request must have unless it reports an error (one of a set suffices).
_REQUIRED = {"load": [{"failed"}], "subject": [{"id", "missing"}], "call": [{"out_is_input"}, {"requires_grad"}],
             "invoke": [{"out_is_input"}, {"requires_grad"}], "warned": [{"out_is_input"}, {"warnings"}],
             "forward": [{"out_is_input"}, {"requires_grad"}],
             "backward": [{"grad"}], "repeat": [{"out"}], "make": [{"module"}, {"training"}],
             "train": [{"training"}, {"returned_self"}], "describe": [{"info"}], "pipeline": [{"info", "missing"}],
             "probe": [{"out", "ggrad_error"}, {"primal", "jvp_error"}], "state": [{"state"}],
             "copies": [{"copies"}], "weights": [{"weights"}], "passes": [{"out"}]}


def _reply_fields(op: str) -> dict:
    """The fields a reply to ``op`` may have, and their types (besides ``error`` and ``routes``)."""
    import torch

    return {"load": {"failed": list}, "subject": {"id": int, "missing": str}, "seed": {},
            "call": _tensor_reply(), "invoke": _tensor_reply(), "forward": _tensor_reply(),
            "warned": {**_tensor_reply(), "warnings": list},
            "backward": {"grad": (torch.Tensor, type(None))}, "repeat": {"out": torch.Tensor},
            "make": {"module": int, "training": bool},
            "train": {"training": bool, "returned_self": bool}, "set": {},
            "describe": {"info": dict}, "pipeline": {"info": dict, "missing": str},
            "probe": {"out": torch.Tensor, "primal": torch.Tensor, "jvp": torch.Tensor, "ggrad": torch.Tensor,
                      "jvp_error": str, "ggrad_error": str},
            "state": {"state": dict}, "copies": {"copies": str}, "weights": {"weights": dict},
            "passes": {"out": torch.Tensor}}[op]


def _texts(value, what: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= REPLY_TEXT for v in value):
        raise wire.WireError(f"{what} is not a list of strings")


def check_reply(op: str, reply) -> dict:
    """``reply`` if it has the form an answer to ``op`` has; WireError otherwise.

    The sandbox is student code's to command: what the grader then does with a
    reply (a key it reads, a string it joins) must not raise anything but a verdict.
    """
    if not isinstance(reply, dict):
        raise wire.WireError(f"the answer is a {type(reply).__name__}, not a message")
    allowed = {**_reply_fields(op), "error": dict, "routes": list}
    for key, value in reply.items():
        kind = allowed.get(key)
        if kind is None:
            raise wire.WireError(f"the answer has a field {key[:40]!r} that {op} does not send")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise wire.WireError(f"the answer's {key!r} is a {type(value).__name__}")
        if isinstance(value, str) and len(value) > REPLY_TEXT:
            raise wire.WireError(f"the answer's {key!r} is longer than {REPLY_TEXT} characters")
    if "routes" in reply:
        _texts(reply["routes"], "routes")
        if len(reply["routes"]) > REPLY_ROUTES or any(len(r) > 200 for r in reply["routes"]):
            raise wire.WireError(f"the answer names more than {REPLY_ROUTES} routes, or a route of over 200 characters")
    for texts in ("failed", "warnings"):
        if texts in reply:
            _texts(reply[texts], texts)
    error = reply.get("error")
    if error is not None:
        texts = {k: error.get(k, "") for k in ("message", "call")}
        if (error.get("kind") not in ("check", "student") or "message" not in error
                or set(error) - {"kind", "message", "call", "types"}
                or not all(isinstance(v, str) and len(v) <= REPLY_TEXT for v in texts.values())):
            raise wire.WireError("the answer's error is not one the sandbox sends")
        _texts(error.get("types", ["Exception"]), "the error's types")
    else:
        missing = [" or ".join(sorted(one)) for one in _REQUIRED.get(op, []) if not one & set(reply)]
        if missing:
            raise wire.WireError(f"the answer to {op} lacks {', '.join(missing)}")
    return reply


class SandboxGone(Exception):
    """The sandbox process ended (or was ended) while it should have answered."""

    def __init__(self, why: str, timed_out: bool = False):
        super().__init__(why)
        self.timed_out = timed_out


def describe_exit(status: int) -> str:
    if status < 0:
        return "the process running your code ended"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        what = {signal.SIGSEGV: " (a segmentation fault)", signal.SIGKILL: " (killed: out of "
                "time or memory)", signal.SIGXCPU: " (CPU time limit)"}.get(sig, "")
        return f"the process running your code was killed by {signal.Signals(sig).name}{what}"
    return f"the process running your code exited with status {os.WEXITSTATUS(status)}"


class Sandbox:
    """One sandbox process holding one notebook's code; ``request`` talks to it."""

    def __init__(self, cells: list[str], device, load_timeout: float, jail_spec: dict | None = None,
                 torch_dropout: bool = False):
        import torch

        self.zygote = Zygote.shared()
        self.device = torch.device(device)
        mine, theirs = socket.socketpair()
        self._records, records = os.pipe()
        self._recorded = bytearray()
        try:
            self.pid = self.zygote.fork_sandbox(theirs, records, jail_spec, torch_dropout)
        finally:
            theirs.close()
            os.close(records)
        self.sock = mine
        self.exit_status: int | None = None
        wire.send(self.sock, {"device": str(self.device)})
        self.load = self.request("load", load_timeout, cells=cells)

    @property
    def alive(self) -> bool:
        return self.exit_status is None

    def dropout_calls(self) -> list[str]:
        """Every call of torch's dropout the sandbox's dispatcher refused so far, by operator, in order.

        Read from a pipe the sandbox can only write to, so nothing it does can take a record back.
        """
        return torch_dropout_off.read_records(self._records, self._recorded)

    def request(self, op: str, timeout: float, **fields) -> dict:
        """Send one request and wait up to ``timeout`` s in all; kill the sandbox on any failure.

        The reply is read within :func:`reply_budget` and must pass :func:`check_reply`:
        a reply that trickles, floods, or has another form ends the sandbox like a crash.

        Raises :class:`SandboxGone` (with why) if the process died or ran out of time;
        anything raised while waiting (the runner's own time limit) also kills it.
        """
        if not self.alive:
            raise SandboxGone(describe_exit(self.exit_status))
        deadline = time.monotonic() + timeout
        try:
            self.sock.settimeout(timeout)
            wire.send(self.sock, {"op": op, **fields})
            reply = wire.receive(self.sock, self.device, deadline, reply_budget(fields))
            return check_reply(op, reply)
        except socket.timeout:
            self.kill()
            raise SandboxGone(f"your code did not answer within {timeout:.0f} s "
                              f"(an endless loop?)", timed_out=True) from None
        except (wire.HungUp, OSError):
            self.kill()
            raise SandboxGone(describe_exit(self.exit_status)) from None
        except wire.WireError as error:  # too large, or not a message at all
            self.kill()
            raise SandboxGone(f"the process running your code sent back an answer the grader "
                              f"cannot read ({error})") from None
        except BaseException:
            self.kill()
            raise

    def kill(self) -> None:
        if self.exit_status is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.sock.close()
        self.exit_status = self.zygote.wait(self.pid)
        torch_dropout_off.read_records(self._records, self._recorded)  # what it wrote before it ended
        os.close(self._records)
        self._records = -1

    close = kill
