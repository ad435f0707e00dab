"""The grader's side of sandboxed grading: the same checks, with student code out of reach.

A :class:`RemoteFunctionSubject` or :class:`RemoteModuleSubject` behaves like
the local subjects the checks already use, but each call travels to the
sandbox (:mod:`autograder.untrusted.sandbox`) and only tensors come back. Torch's
reference, the comparisons and the verdict all stay in this process, where
no student code runs. :func:`verify_notebook` is the entry point: a
notebook's cells in, one :class:`~autograder.report.CheckResult` per
requested check out.
"""
from __future__ import annotations

import builtins
import time
import zlib
from dataclasses import dataclass, field

import torch
from torch import nn

from . import device as devices
from .registry import CHECKS
from .pipeline import judge_pipeline
from .report import CheckResult
from .untrusted.jail import JailError
from .untrusted.sandbox import REPLY_ROUTES, Sandbox, SandboxGone
from .runner import DELEGATION, CheckTimeout, refuse_delegation, run_check
from .subject import (TARGETS, CheckFailed, CodeCrashed, FunctionSubject, ModuleSubject, StudentError,
                      invoke_text, make_text)

#: Seconds one request to the sandbox may take (one call of the student's code).
CALL_TIME_LIMIT = 10.0
#: A submission whose code kills its sandbox this often gets no more sandboxes: each check
#: that crashes costs one, and a restart costs a fork and the notebook's cells again.
MAX_RESTARTS = 10


def _rebuild_error(error: dict) -> BaseException:
    """The student's exception as an object of the nearest built-in class, same name.

    Built from names only (nothing the sandbox sends is executed), so that
    ``isinstance(e, ValueError)`` and the message still work here.
    """
    base = next((getattr(builtins, n) for n in error.get("types", [])
                 if isinstance(getattr(builtins, n, None), type)
                 and issubclass(getattr(builtins, n), BaseException)), Exception)
    name = (error.get("types") or ["Exception"])[0]
    cls = base if base.__name__ == name else type(name, (base,), {})
    try:
        return cls(error.get("message", ""))
    except TypeError:  # built-ins with other signatures (UnicodeError and kin)
        return type(name, (Exception,), {})(error.get("message", ""))


@dataclass(eq=False)
class RemoteImpl:
    """The notebook's ``name`` inside ``code``'s sandbox; the runner's key for "timed out"."""
    code: "SandboxedCode"
    name: str


class SandboxedCode:
    """One submission's code in a sandbox, restarted (a few times) if the code kills it."""

    def __init__(self, cells: list[str], device: torch.device, load_timeout: float = 60.0,
                 jail_spec: dict | None = None, torch_dropout: bool = False, count_load_calls: bool = True):
        self.cells, self.device, self.load_timeout = cells, device, load_timeout
        self.jail_spec, self.torch_dropout = jail_spec, torch_dropout
        #: Whether a call of torch's dropout while the cells loaded counts against every answer:
        #: not in a notebook that is also graded on calling torch's dropout (dropout_family's Part 4).
        self.count_load_calls = count_load_calls
        self.restarts = 0
        self.crashes: list[str] = []
        self.load_error = ""
        #: Torch's dropout operators the notebook's cells called while they loaded.
        self.load_calls: list[str] = []
        self.box: Sandbox | None = None

    def sandbox(self) -> Sandbox:
        if self.box is not None and self.box.alive:
            return self.box
        if self.load_error:  # loading is deterministic: a second try would end the same way
            raise CheckFailed(self.load_error)
        if self.box is not None:
            self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            raise CheckFailed(f"skipped: your code ended the process running it "
                              f"{self.restarts} times ({self.crashes[-1]})")
        try:
            self.box = Sandbox(self.cells, self.device, self.load_timeout, self.jail_spec, self.torch_dropout)
        except (SandboxGone, JailError) as gone:  # a JailError: e.g. a folder too large to copy in
            self.crashed(gone)
            self.load_error = f"your notebook's code could not be loaded: {gone}"
            raise CheckFailed(self.load_error) from None
        self.load_calls = list(dict.fromkeys([*self.load_calls, *self.box.dropout_calls()]))
        return self.box

    def crashed(self, gone: SandboxGone | JailError) -> None:
        """Note how the sandbox ended, once per distinct reason."""
        if str(gone) not in self.crashes:
            self.crashes.append(str(gone))

    @property
    def load_failures(self) -> list[str]:
        return self.box.load["failed"] if self.box is not None and self.box.alive else []

    def close(self) -> None:
        if self.box is not None:
            self.box.close()


class _Remote:
    """Mixin for both remote subjects: requests, errors, routes, tensors back."""

    code: SandboxedCode
    key: int

    def _connect(self, code: SandboxedCode, name: str, kind: str, seed: int) -> None:
        self.code, self.name, self.watch = code, name, None
        self._routes: list[str] = []
        # A subject lives in one sandbox: after a crash, the next check gets a new one.
        self._box = code.sandbox()
        reply = self._request("subject", "", kind=kind, name=name, label=self.label)
        if "missing" in reply:
            raise CheckFailed(reply["missing"])
        self.key = reply["id"]
        self._request("seed", "", seed=seed)

    def _request(self, op: str, what: str, **fields) -> dict:
        """One request; the routes to torch's dropout it took are added to :attr:`routes`.

        The witness is the dispatcher's records (:mod:`.untrusted.torch_dropout_off`), read
        from a pipe the sandbox cannot take back; a reply's own ``routes`` field (empty from
        our unwatched sandbox, bounded by :func:`~.untrusted.sandbox.check_reply`) is added too.
        """
        start = len(self._box.dropout_calls())
        try:
            reply = self._box.request(op, CALL_TIME_LIMIT, **fields)
        except SandboxGone as gone:
            self.code.crashed(gone)
            self._witness(start, [])
            raise StudentError(what or op, CheckTimeout() if gone.timed_out else CodeCrashed(str(gone))) from None
        self._witness(start, reply.get("routes", []))
        error = reply.get("error")
        if error and error["kind"] == "check":
            raise CheckFailed(error["message"])
        if error:
            raise StudentError(error.get("call") or what, _rebuild_error(error))
        return reply

    def _witness(self, start: int, reported: list[str]) -> None:
        refused = self._box.dropout_calls()[start:]
        self._routes = list(dict.fromkeys([*self._routes, *refused, *reported]))[:REPLY_ROUTES]

    @property
    def routes(self) -> list[str]:
        """Routes seen while this subject's checks ran, and any call made while the cells loaded."""
        loaded = [f"{call}, while your notebook's cells loaded" for call in self.code.load_calls
                  if self.code.count_load_calls]
        return list(dict.fromkeys([*loaded, *self._routes]))[:REPLY_ROUTES]

    def __call__(self, x, p=0.5, training=True, inplace=False, on="", grad_mode="grad"):
        call = self.call_text(p, training, inplace) + (f" on {on}" if on else "")
        reply = self._request("call", call, subject=self.key, x=x, p=p, training=training,
                              inplace=inplace, on=on, requires_grad=x.requires_grad, grad_mode=grad_mode)
        return self._tensor(reply, x, call)

    def warned(self, x, p, training=True) -> tuple[torch.Tensor, list[str]]:
        call = self.call_text(p, training)
        reply = self._request("warned", call, subject=self.key, x=x, p=p, training=training)
        return self._tensor(reply, x, call), reply["warnings"]

    def probe(self, x, p, training, tangent, v) -> dict:
        reply = self._request("probe", f"autograd through {self.call_text(p, training)}", subject=self.key,
                              x=x, p=p, training=training, tangent=tangent, v=v)
        return {k: reply.get(k) for k in ("out", "ggrad", "primal", "jvp", "jvp_error", "ggrad_error")}

    def seed(self, seed: int) -> None:
        self._request("seed", "torch.manual_seed", seed=seed)

    def state(self) -> dict:
        return self._request("state", "reading torch's settings", subject=self.key)["state"]

    def repeat(self, x, p: float, n: int) -> torch.Tensor:
        reply = self._request("repeat", f"{self.call_text(p)}, {n} calls", subject=self.key,
                              x=x, p=p, n=n)
        out = reply["out"]
        if not isinstance(out, torch.Tensor) or out.shape != (n, *x.shape):
            raise CheckFailed(f"{self.call_text(p)} returned tensors of another shape than its input")
        return out

    def run(self, fn, call: str):
        try:
            return fn()
        except (CheckFailed, StudentError):
            raise
        except Exception as error:  # noqa: BLE001 - any student error is a verdict
            raise StudentError(call, error) from error

    def _tensor(self, reply: dict, x: torch.Tensor, call: str) -> torch.Tensor:
        """The sandbox's answer as a tensor here, with x's in-place changes and autograd.

        The sandbox sends x back only when the call changed it, and the output only
        when it is not x itself.
        """
        after = reply.get("x_after")
        out = after if reply["out_is_input"] else reply.get("out")
        if not isinstance(out, torch.Tensor):
            raise CheckFailed(f"{call} sent back no tensor")
        if reply["requires_grad"] and x.requires_grad and "graph" in reply:
            out = _Backward.apply(x, out, self, reply["graph"], call)
            if reply["out_is_input"]:  # in place, and recorded: the gradient flows through it
                x.copy_(out)
                return x
        if isinstance(after, torch.Tensor) and not torch.equal(after, x.detach()):
            with torch.no_grad():
                x.copy_(after)
        return x if reply["out_is_input"] else out


class _Backward(torch.autograd.Function):
    """Carries a gradient here back through the student's graph in the sandbox."""

    @staticmethod
    def forward(ctx, x, out, subject, graph, call):
        ctx.subject, ctx.graph, ctx.call = subject, graph, call
        return out.clone()

    @staticmethod
    def backward(ctx, grad):
        reply = ctx.subject._request("backward", f"backward through {ctx.call}", subject=ctx.subject.key,
                                     graph=ctx.graph, grad=grad.contiguous(),
                                     call=f"backward through {ctx.call}")
        return reply["grad"], None, None, None, None


class RemoteFunctionSubject(_Remote, FunctionSubject):
    def __init__(self, code: SandboxedCode, name: str, seed: int, label: str = "dropout"):
        self.label = label
        self._connect(code, name, "function", seed)

    def invoke(self, x, args=(), kwargs=None) -> torch.Tensor:
        call = invoke_text(args, kwargs, self.label)
        reply = self._request("invoke", call, subject=self.key, x=x, args=list(args),
                              kwargs=dict(kwargs or {}))
        return self._tensor(reply, x, call)


class RemoteModule(nn.Module):
    """Stands here for a student's Dropout instance living in the sandbox."""

    def __init__(self, subject: "RemoteModuleSubject", key: int, training: bool, text: str):
        super().__init__()
        self._subject, self._key, self._text = subject, key, text
        self.training = training

    def train(self, mode: bool = True):
        call = f"{self._text}.train({mode})"
        reply = self._subject._request("train", call, module=self._key, mode=mode, call=call)
        self.training = reply["training"]
        return self if reply.get("returned_self") else None  # what the student's train() returned

    def forward(self, x):
        call = f"{self._text} in {'train' if self.training else 'eval'} mode"
        reply = self._subject._request("forward", call, module=self._key, x=x, call=call,
                                       requires_grad=x.requires_grad)
        return self._subject._tensor(reply, x, call)


class RemoteModuleSubject(_Remote, ModuleSubject):
    def __init__(self, code: SandboxedCode, name: str, seed: int, label: str = "Dropout"):
        self.label = label
        self._connect(code, name, "module", seed)

    def make(self, *args, **kwargs) -> nn.Module:
        call = make_text(args, kwargs, self.label)
        reply = self._request("make", call, subject=self.key, args=list(args), kwargs=kwargs)
        return RemoteModule(self, reply["module"], reply["training"], call)

    def set(self, module: "RemoteModule", name: str, value) -> None:
        self._request("set", f"setting .{name} = {value!r}", module=module._key, name=name, value=value)

    def describe(self, *args, **kwargs) -> dict:
        return self._request("describe", make_text(args, kwargs, self.label), subject=self.key,
                             args=list(args), kwargs=kwargs)["info"]

    def copies(self, *args) -> str:
        return self._request("copies", f"copy.deepcopy({make_text(args, label=self.label)})", subject=self.key,
                             args=list(args))["copies"]


REMOTE_SUBJECTS = {"function": RemoteFunctionSubject, "module": RemoteModuleSubject}


def remote_subject(target: str, impl: RemoteImpl, seed: int) -> _Remote:
    """The sandboxed twin of :meth:`Target.subject <autograder.subject.Target.subject>`."""
    kind, label = TARGETS[target].kind, TARGETS[target].label
    return REMOTE_SUBJECTS[kind](impl.code, impl.name, seed, label)


@dataclass(frozen=True)
class Request:
    """One grade cell's question: run ``check`` on the notebook's ``name`` (a ``target``).

    ``check`` is a name in :data:`~autograder.registry.CHECKS`, or ``"overfitting"`` (Part 3's
    outcome check of the layer ``name``), or ``"pipeline"``
    for the Part 3 check of ``name`` (the model) built with ``module``.
    """
    check: str
    target: str
    name: str
    module: str = ""


@dataclass
class Verification:
    results: dict[Request, CheckResult] = field(default_factory=dict)
    crashes: list[str] = field(default_factory=list)
    load_failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _pipeline(code: SandboxedCode, request: Request, device: torch.device) -> CheckResult:
    start = time.perf_counter()
    message = ""
    try:
        x = torch.randn(64, 20, generator=torch.Generator().manual_seed(0)).to(device)
        box = code.sandbox()
        before = len(box.dropout_calls())
        try:
            reply = box.request("pipeline", CALL_TIME_LIMIT, model=request.name,
                                layer=request.module, x=x)
        except SandboxGone as gone:
            code.crashed(gone)
            raise CheckFailed(f"checking your model ended the process running it: {gone}") from None
        if "missing" in reply:
            raise CheckFailed(reply["missing"])
        refuse_delegation(box.dropout_calls()[before:])
        if "error" in reply:
            error = reply["error"]
            raise CheckFailed(error["message"] if error["kind"] == "check" else
                              f"running your model raised {error['types'][0]}: {error['message']}")
        judge_pipeline(reply["info"])
    except CheckFailed as failed:
        message = str(failed)
    except Exception as odd:  # noqa: BLE001 - what the sandbox said is the student's: any fault a verdict
        message = f"your model's answers could not be used: {type(odd).__name__}: {str(odd)[:300]}"
    return CheckResult("pipeline", "pipeline", not message, 0, 0, message, "",
                       time.perf_counter() - start)


def _overfitting(code: SandboxedCode, request: Request, device: torch.device) -> CheckResult:
    """Part 3's network check: the training loop here, the student's layer in the sandbox.

    Each forward and backward pass through the two dropout slots is a round trip, so
    the student's code shapes the masks and their gradients, and nothing it says about
    the result is taken on trust: the network's behaviour and accuracies are measured here.
    """
    from . import overfitting

    start = time.perf_counter()
    message = ""
    try:
        subject = RemoteModuleSubject(code, request.name, zlib.crc32(b"overfitting"))
        try:
            mine = overfitting.train(lambda: subject.make(overfitting.P), device)
            found = overfitting.measure_network(mine, device)
        finally:
            refuse_delegation(subject.routes)
        overfitting.judge(mine, overfitting.baseline(str(device)), found)
    except (CheckFailed, StudentError) as failed:
        message = str(failed)
    except Exception as odd:  # noqa: BLE001 - as in _pipeline
        message = f"training or measuring the network with your Dropout failed: {type(odd).__name__}: {str(odd)[:300]}"
    return CheckResult("overfitting", "overfitting", not message, 0, 0, message, "",
                       time.perf_counter() - start)


class RemoteModel(RemoteModuleSubject):
    """A class of the notebook's in the sandbox, driven as :class:`~autograder.fixed_models.LocalModel`."""

    def make(self, **kwargs) -> dict:
        self.seed(0)
        self.module = super().make(**kwargs)
        weights = self._request("weights", f"{self.name}(...).state_dict()", module=self.module._key)["weights"]
        return {str(k): v.cpu() if isinstance(v, torch.Tensor) else v for k, v in weights.items()}

    def train(self, mode: bool) -> None:
        self.module.train(mode)

    def passes(self, x, n: int) -> torch.Tensor:
        out = self._request("passes", f"{self.name} in {'train' if self.module.training else 'eval'} mode",
                            module=self.module._key, x=x, n=n)["out"]
        return out.cpu()


def _fixed_model(code: SandboxedCode, request: Request, device: torch.device) -> CheckResult:
    """dropout_family's Part 4 on the class ``request.name``, in a sandbox with torch's dropout on."""
    from . import fixed_models

    start = time.perf_counter()
    message = ""
    try:
        if request.name not in fixed_models.TWINS:
            raise CheckFailed(f"check_fixed_model takes {' or '.join(fixed_models.TWINS)}, not {request.name!r}")
        fixed_models.judge(request.name, RemoteModel(code, request.name, zlib.crc32(b"fixed_model"),
                                                     label=request.name))
    except StudentError as error:
        message = fixed_models.explain(request.name, error.error)
    except CheckFailed as failed:
        message = str(failed)
    except Exception as odd:  # noqa: BLE001 - as in _pipeline
        message = f"running your {request.name} failed: {type(odd).__name__}: {str(odd)[:300]}"
    return CheckResult("fixed_model", "fixed_model", not message, 0, 0, message, "",
                       time.perf_counter() - start)


#: Grade cells judged by an outcome rather than by one of CHECKS: how each is answered.
OUTCOMES = {"pipeline": _pipeline, "overfitting": _overfitting, "fixed_model": _fixed_model}
#: Outcomes answered in a sandbox where torch's dropout stays on: how a model calls it is what they grade.
WITH_TORCH_DROPOUT = {"fixed_model"}


def verify_notebook(cells: list[str], requests: list[Request], device=None,
                    load_timeout: float = 60.0, jail_spec: dict | None = None) -> Verification:
    """Run ``cells`` in a sandbox and answer every request from this process.

    Never raises for anything the student's code does; a crash, a hang or a
    missing name becomes a failed result with the reason as its message. With
    ``jail_spec`` (:func:`autograder.untrusted.jail.spec`) the sandbox is jailed.
    """
    start = time.perf_counter()
    device = torch.device(device) if device is not None else devices.grading_device()
    codes: dict[bool, SandboxedCode] = {}   # one sandbox per policy on torch's dropout, made when needed
    # A notebook graded on calling torch's dropout right may call it in any cell: what counts
    # against its from-scratch answers is only what they run.
    calls_torch_dropout = any(r.check in WITH_TORCH_DROPOUT for r in requests)

    def code_for(check: str) -> SandboxedCode:
        on = check in WITH_TORCH_DROPOUT
        if on not in codes:
            codes[on] = SandboxedCode(cells, device, load_timeout, jail_spec, torch_dropout=on,
                                      count_load_calls=not calls_torch_dropout)
        return codes[on]

    outcome = Verification()
    impls: dict[str, RemoteImpl] = {}
    try:
        for request in requests:
            if request.check in OUTCOMES:
                outcome.results[request] = OUTCOMES[request.check](code_for(request.check), request, device)
                continue
            check = CHECKS[request.check]
            impl = impls.setdefault(request.name, RemoteImpl(code_for(request.check), request.name))
            outcome.results[request] = run_check(check, request.target, impl, device, make_subject=remote_subject)
        outcome.load_failures = list(dict.fromkeys(f for code in codes.values() for f in code.load_failures))
    finally:
        for code in codes.values():
            code.close()
    outcome.crashes = list(dict.fromkeys(c for code in codes.values() for c in code.crashes))
    outcome.seconds = time.perf_counter() - start
    return outcome
