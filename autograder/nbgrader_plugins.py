"""nbgrader preprocessors that keep autograding honest when student code is hostile.

``nbgrader_config.py`` puts them into nbgrader's own autograde pipeline:

* :class:`GuardedExecute` replaces nbgrader's ``Execute``: the kernel runs
  jailed (:class:`StudentCodeJail`) and limited, a cell keeps at most ``output_limit``
  characters of output, and once the kernel dies or a cell runs out of time
  the remaining cells are marked as not run instead of waiting on a kernel
  that will not answer (the time a submission can take is bounded);
* :class:`VerifyChecks` runs after the kernel is gone. It gives every grade
  cell that calls the grader (``assert_check``, ``check_pipeline``) the
  verdict reached in this process, with the student's code in a sandbox
  (:mod:`autograder.remote`), and replaces the cell's outputs with it. What
  a notebook did to its own kernel (a monkeypatch, a hidden traceback, a
  patched grader) cannot reach that verdict. Where the two disagree, the
  notebook is marked as tampered with.

Faults (a dead kernel, a timeout, a crash, tampering) are logged, kept in the
autograded notebook's metadata under ``autograder`` and shown to the student
in the feedback next to the cell they concern.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from queue import Empty

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, DottedObjectName, Float, Integer, List, Type, Unicode
from traitlets.config import Configurable

from .cells import call_label, grader_calls, is_test
from .submission_folders import set_aside_in
from .untrusted import forked_kernel, jail, launch

FAULTS = "autograder"  # key in resources and in the notebook's metadata


class StudentCodeJail(Configurable):
    """Whether student code runs jailed while it is graded (:mod:`autograder.untrusted.jail`).

    On (the default), the graded kernel and the verification sandbox see only a
    copy of their own submission folder, the system read-only, no network, no
    other process and no secret; where this machine cannot jail, autograding
    refuses to start and says why. Off, student code runs with the grader's rights.
    """

    enabled = Bool(True, help="Jail every process that runs student code during "
                              "autograding. Turn off only where jails cannot work and "
                              "you trust every submission: student code then runs with "
                              "your account's rights.").tag(config=True)

    def required(self) -> bool:
        """Whether the jail is on; raises :class:`~autograder.untrusted.jail.JailUnavailable`
        where it is on and this machine cannot jail."""
        if self.enabled:
            jail.require()
        return self.enabled

    def spec(self, workdir: str | None) -> dict | None:
        """The jail for code run in ``workdir``, or None where the jail is off."""
        return jail.spec(workdir) if self.required() else None


def _faults(resources: dict) -> list[str]:
    return resources.setdefault(FAULTS, {}).setdefault("faults", [])


def _error(ename: str, lines: list[str]):
    """An error output as a kernel makes it: the message, and a traceback that shows it."""
    evalue = "\n".join(lines)
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


def _some(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _released(source: str) -> str:
    """A read-only cell's text as students get it: hidden tests removed, as nbgrader does."""
    return "\n".join(line.rstrip() for line in _HIDDEN.sub("", source).strip().splitlines())


class RestoreCellMetadata(NbGraderPreprocessor):
    """Put back every cell's nbgrader flags as the source has them, before nbgrader reads them.

    nbgrader restores a changed test cell's source and points, but takes its
    ``grade`` and ``solution`` flags from the submission: a student who turns
    a test cell into a solution cell sends it to manual grading, and a cell
    claiming a grade id the assignment lacks stops the whole notebook from
    validating. Here each known grade id gets the source's flags and points,
    an unknown one loses its nbgrader metadata, and both are reported.
    """

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        where = (info["notebook"], info["assignment"])
        faults: list[str] = []
        edited: list[str] = []
        flipped: list[str] = []
        with Gradebook(info["db_url"]) as gradebook:
            # The assignment's cells, read once: a query per cell costs 0.1 s a notebook.
            notebook = gradebook.find_notebook(*where)
            sources = {c.name: c for c in notebook.source_cells}
            graded_cells = {c.name: c for c in notebook.grade_cells + notebook.task_cells}
            solutions = {c.name for c in notebook.solution_cells}
            for cell in nb.cells:
                cell.metadata.pop(FAULTS, None)  # only grading writes verdicts (VerifyChecks)
                meta = cell.metadata.get("nbgrader")
                if not meta:
                    cell.metadata.pop("nbgrader", None)  # DeduplicateIds leaves {} on a duplicate
                    continue
                grade_id = meta.get("grade_id")
                source = sources.get(grade_id)
                if source is None:
                    if meta.get("grade") or meta.get("solution") or meta.get("locked"):
                        faults.append(f"tampering: a cell claims to be nbgrader cell {grade_id!r}, "
                                      f"which the assignment does not have; it is graded as an "
                                      f"ordinary cell")
                    del cell.metadata["nbgrader"]
                    continue
                graded = graded_cells.get(grade_id)
                wanted = {"grade": graded is not None, "solution": grade_id in solutions,
                          "locked": bool(source.locked)}
                if graded is not None:
                    wanted["points"] = float(graded.max_score)
                changed = sorted(k for k, v in wanted.items() if meta.get(k) != v)
                if changed:
                    flipped.append(f"{'/'.join(changed)} of {grade_id}")
                    meta.update(wanted)
                    if graded is None:
                        meta.pop("points", None)
                if source.locked and _released(source.source) != _released(cell.source):
                    edited.append(grade_id)
            missing = self._add_missing(nb, notebook)
        if flipped:
            faults.append(f"tampering: the nbgrader metadata of {len(flipped)} cells was changed "
                          f"({_some(flipped)}); restored from the source")
        if edited:
            faults.append(f"tampering: {len(edited)} read-only cells were edited ({_some(edited)}); "
                          f"nbgrader restores them from the source")
        if missing:
            faults.append(f"tampering: {len(missing)} nbgrader cells were deleted ({_some(missing)}); "
                          f"they were added back")
        set_aside = set_aside_in(resources.get("metadata", {}).get("path") or "")
        if set_aside:
            faults.append(f"set aside: {len(set_aside)} things in the submission folder were not read "
                          f"({_some(set_aside)}); only plain files and folders are graded")
        # Replaces whatever the submission put under this key: only grading writes faults.
        nb.metadata[FAULTS] = {"faults": faults}
        for fault in faults:
            self.log.warning("%s/%s: %s", info.get("student", "?"), info["assignment"], fault)
        return nb, resources

    def _add_missing(self, nb, notebook) -> list[str]:
        """Put deleted grade cells back after the nearest earlier nbgrader cell still there.

        nbgrader's own ``add_missing_cells`` assumes that cell is a grade or solution
        cell and fails on the whole submission when it is a read-only text cell.
        """
        from nbgrader.preprocessors import OverwriteCells

        graded = {c.name: c for c in notebook.grade_cells}
        solutions = {c.name for c in notebook.solution_cells}
        missing = []
        anchor = -1
        for source in notebook.source_cells:
            ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
            if source.name in ids:
                anchor = ids.index(source.name)
            elif source.name in graded:
                cell = nbformat.from_dict(OverwriteCells(parent=self).missing_cell_transform(
                    source, graded[source.name].max_score, is_solution=source.name in solutions))
                anchor += 1
                nb.cells.insert(anchor, cell)
                missing.append(source.name)
        return missing


class ReadyKernelClient(AsyncKernelClient):
    """jupyter_client's kernel client, ready as soon as the kernel is.

    jupyter_client's ``wait_for_ready`` ends with 0.2 s of listening to a silent
    IOPub channel, and loses another 0.2 s whenever IOPub connects after the
    kernel's first status: up to 0.4 s per graded notebook. Here the handshake
    ends when the kernel's ``idle`` for the ``kernel_info`` request arrives on
    IOPub, the last message it sends for that request, which also proves IOPub
    is connected. A message published before IOPub connects is lost, so the
    request is sent again when IOPub says it has just connected (ipykernel's
    ``iopub_welcome``) or where no ``idle`` comes within 50 ms.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            request = self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply and reply["msg_type"] == "kernel_info_reply" and await self._idle_after(request):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    async def _idle_after(self, request: str) -> bool:
        while True:
            try:
                msg = await self.iopub_channel.get_msg(timeout=0.05)
            except Empty:
                return False
            if msg["msg_type"] == "iopub_welcome":  # connected just now: ask again at once
                return False
            if (msg["parent_header"].get("msg_id") == request
                    and msg["content"].get("execution_state") == "idle"):
                return True


class LimitedKernelManager(AsyncKernelManager):
    """Starts the kernel jailed and limited, forked from the zygote where it can.

    Forked (:mod:`autograder.untrusted.forked_kernel`), a kernel begins with torch
    already imported; started, it begins as :mod:`autograder.untrusted.launch`.
    Either way it is a fresh process in the same jail under the same limits. A
    jailed kernel has no network: it binds Unix sockets (ZeroMQ's ``ipc``) in a
    folder on the jail's own tmpfs, and this process connects to them through
    ``/proc/<keeper>/root``. Of this process's files it sees only its connection
    file, read-only: nothing it writes lands on the grader's disk.
    """

    client_class = DottedObjectName("autograder.nbgrader_plugins.ReadyKernelClient")
    client_factory = Type(klass=ReadyKernelClient)

    fork_kernels = Bool(True, help="Fork each kernel from the grader's zygote, which has "
                                   "imported torch once (Linux). Off: a fresh interpreter "
                                   "per kernel, seconds slower.").tag(config=True)

    _jail_spec: dict | None = None
    _kernel_dir: str | None = None

    async def _async_pre_start_kernel(self, **kw):
        self._jail_spec = None
        if StudentCodeJail(config=self.config).required():
            self._kernel_dir = self._kernel_dir or tempfile.mkdtemp(prefix="dropout-kernel-")
            sockets = f"/tmp/.kernel-{uuid.uuid4().hex}"  # inside the jail; unguessable outside
            self.transport = "ipc"
            self.ip = f"{sockets}/k"
            self.connection_file = os.path.join(self._kernel_dir, "kernel.json")
            self._jail_spec = jail.spec(kw.get("cwd"), [self._kernel_dir], sockets, kw.get("env") or os.environ)
        if (self.provisioner is None and self.fork_kernels and forked_kernel.supported()
                and not self.kernel_spec.metadata.get("kernel_provisioner")):
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = forked_kernel.ForkingProvisioner(
                kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)

    async def _async_post_start_kernel(self, **kw) -> None:
        if self._jail_spec:  # the kernel's sockets, as the grader reaches them in the jail's root
            self.ip = jail.reachable(self.provisioner.pid, f"{self._jail_spec['sockets']}/k")
        await super()._async_post_start_kernel(**kw)

    async def _async_wait(self, pollinterval: float = 0.01) -> None:
        # jupyter_client looks every 0.1 s whether the kernel has exited; a shut-down
        # kernel is gone within milliseconds, and each graded notebook waits for one.
        await super()._async_wait(min(pollinterval, 0.01))

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if self._jail_spec and forked_kernel.kernel_arguments(cmd) is not None:
            # The grader is outside the jail's PID namespace: ipykernel must not watch
            # for its parent (the jail dies with it through PR_SET_PDEATHSIG).
            cmd = [*cmd, "--IPKernelApp.parent_handle=1"]
        return launch.wrapped(cmd, self._jail_spec)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._kernel_dir and not restart:
            shutil.rmtree(self._kernel_dir, ignore_errors=True)
            self._kernel_dir = None


class GuardedExecute(Execute):
    """nbgrader's Execute with bounds on memory, output and the notebook's total time."""

    output_limit = Integer(
        100_000, help="Characters of output one cell keeps; the rest is dropped as it arrives.",
    ).tag(config=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("kernel_manager_class", LimitedKernelManager)
        super().__init__(**kwargs)

    #: Kernel starts tried before the notebook counts as not run. A start can fail for
    #: reasons that are nobody's fault: two graders picking the same free TCP port.
    start_attempts = 3

    def preprocess(self, nb, resources=None, km=None):
        StudentCodeJail(parent=self).required()  # refuse here, before any kernel, if jails cannot work
        self._stopped = ""
        self._sizes: dict[int, int] = {}
        self._faults = _faults(resources)
        self._faults.extend(nb.metadata.get(FAULTS, {}).get("faults", []))  # from sanitizing
        self._state = resources[FAULTS]
        self._state_info = resources.get("nbgrader", {})
        for attempt in range(1, self.start_attempts + 1):
            self._ran_a_cell = False
            try:
                return super().preprocess(nb, resources, km)
            except Exception as error:  # noqa: BLE001 - only failures before the first cell
                if self._ran_a_cell or isinstance(error, jail.JailUnavailable):
                    raise
                self.log.warning("the kernel did not start (attempt %d of %d): %s: %s", attempt,
                                 self.start_attempts, type(error).__name__, error)
                why = f"the kernel could not be started ({type(error).__name__}: {error})"
        self._stop(why, 0)
        for cell in nb.cells:
            if cell.cell_type == "code":  # an empty output would score as a pass
                cell.outputs = [_error("NotRun", [f"not run: {why}"])]
        return nb, resources

    def _stop(self, why: str, index: int) -> None:
        """Give up on the kernel: cells from ``index`` on are not run (and not verified)."""
        self._stopped = why
        self._state.setdefault("stopped_at", index)
        self._faults.append(why)
        info = self._state_info
        self.log.warning("%s/%s: %s", info.get("student", "?"), info.get("assignment", "?"), why)

    def preprocess_cell(self, cell, resources, index):
        self._ran_a_cell = True
        if self._stopped:
            if cell.cell_type == "code":
                cell.outputs = [_error("NotRun", [f"not run: {self._stopped}"])]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            cell.outputs.append(_error("DeadKernelError", [
                "the kernel died while running this cell (os._exit, a crash, or out of memory)"]))
            self._stop(f"the kernel died in cell {index}", index)
            return cell, resources
        except CellTimeoutError:  # the kernel did not even answer the interrupt
            cell.outputs.append(_error("CellTimeoutError", [
                f"this cell ran out of time ({self.timeout} s) and did not stop when interrupted"]))
            self._stop(f"cell {index} ran out of time ({self.timeout} s) and ignored the interrupt; "
                       f"the rest of the notebook was not run", index)
            return cell, resources
        if any(o.output_type == "error" and o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            self._stop(f"cell {index} ran out of time ({self.timeout} s); "
                       f"the rest of the notebook was not run", index)
        return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        """Keep output until the cell has ``output_limit`` characters; note the cut once."""
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        seen = self._sizes.get(cell_index, 0)
        self._sizes[cell_index] = seen + size
        if seen + size <= self.output_limit or msg["msg_type"] == "error":
            return super().output(outs, msg, display_id, cell_index)
        if seen <= self.output_limit:
            if msg["msg_type"] == "stream":  # keep the head of the flood
                head = {**msg, "content": {**content, "text": content["text"][:self.output_limit - seen]}}
                super().output(outs, head, display_id, cell_index)
            outs.append(new_output("stream", name="stdout",
                                   text=f"\n[output cut: more than {self.output_limit} characters]\n"))
        return None


class VerifyChecks(NbGraderPreprocessor):
    """Re-judge every grader call outside the kernel and make that the cell's outcome."""

    load_timeout = Float(60.0, help="Seconds the notebook's code may take to load in the "
                                    "sandbox before every verified check fails.").tag(config=True)
    skip_cells = List(Unicode(), help="Grade ids of read-only cells the sandbox need not run "
                                      "(plots, self-checks): the verdicts do not depend on them. "
                                      "Cells students can edit always run.").tag(config=True)

    def _runs_in_sandbox(self, cell) -> bool:
        if cell.cell_type != "code" or is_test(cell):
            return False
        meta = cell.metadata.get("nbgrader", {})
        return not (meta.get("locked") and not meta.get("solution") and meta.get("grade_id") in self.skip_cells)

    def preprocess(self, nb, resources):
        from .runner import CHECKS  # with every assignment's checks registered
        from .remote import DELEGATION, OUTCOMES, Request, verify_notebook

        # Cells from where the kernel was given up on stay "not run": a dead or hung kernel
        # costs the rest of the notebook, and the sandbox runs only what came before.
        end = resources.get(FAULTS, {}).get("stopped_at", len(nb.cells))
        plan = {}
        for index, cell in enumerate(nb.cells[:end]):
            if is_test(cell):
                calls = [c for c in grader_calls(cell.source) if c[0] in OUTCOMES or c[0] in CHECKS]
                if calls:
                    plan[index] = [Request(*c) for c in calls]
        if not plan:
            nb.metadata[FAULTS] = {"faults": list(dict.fromkeys(_faults(resources))), "verified_cells": 0}
            return nb, resources
        cells = [c.source for c in nb.cells[:end] if self._runs_in_sandbox(c)]
        requests = list(dict.fromkeys(r for rs in plan.values() for r in rs))
        folder = resources.get("metadata", {}).get("path") or None
        verification = verify_notebook(cells, requests, load_timeout=self.load_timeout,
                                       jail_spec=StudentCodeJail(parent=self).spec(folder))
        faults = _faults(resources)
        earlier = len(faults)  # logged by the steps that found them
        faults.extend(f"sandbox: {c}" for c in dict.fromkeys(verification.crashes))
        for index, cell_requests in plan.items():
            cell = nb.cells[index]
            results = [verification.results[r] for r in cell_requests]
            kernel_passed = not any(o.output_type == "error" for o in cell.outputs)
            failed = [r for r in results if not r.passed]
            cell.outputs = [self._outcome(results, failed)]
            # The same verdicts as data, for the feedback's summary (autograder/feedback).
            cell.metadata[FAULTS] = {"checks": [
                {"check": call_label(q.check, q.target, q.name), "passed": r.passed, "message": r.message,
                 "hint": r.hint} for q, r in zip(cell_requests, results)]}
            # The kernel lets torch's dropout run and the sandbox does not: a verdict that rests on
            # that rule differs by design, not because something changed how the test ran.
            if failed and kernel_passed and not all(r.message.startswith(DELEGATION) for r in failed):
                grade_id = cell.metadata.nbgrader.get("grade_id", f"cell {index}")
                why = (f"tampering: {grade_id} passed in the notebook's kernel but failed when "
                       f"verified outside it")
                faults.append(why)
                cell.outputs[0].traceback.append(
                    "\nnote: this test passed in your notebook's own run but failed when the same "
                    "check ran outside your kernel, so something in the notebook changed how the "
                    "test ran (a patched function, a hidden error, a reseeded generator). The "
                    "verdict outside your kernel is the one that counts.")
        nb.metadata[FAULTS] = {"faults": list(dict.fromkeys(faults)), "verified_cells": len(plan),
                               "verify_seconds": round(verification.seconds, 2)}
        info = resources.get("nbgrader", {})
        for fault in faults[earlier:]:
            self.log.warning("%s/%s: %s", info.get("student", "?"), info.get("assignment", "?"), fault)
        return nb, resources

    @staticmethod
    def _outcome(results, failed):
        from .remote import OUTCOMES

        if not failed:
            text = "".join(f"{r.name}: passed (verified outside the notebook's kernel)\n" for r in results)
            return new_output("stream", name="stdout", text=text)
        lines = []
        for r in failed:
            what = f"{r.target} check" if r.target in OUTCOMES else f"{r.target} check '{r.name}'"
            lines.append(f"{what} failed: {r.message}")
            if r.hint:
                lines.append(f"hint: {r.hint}")
        return _error("CheckFailed", lines)
