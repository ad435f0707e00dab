"""Where student code runs during grading: the one door every piece of it goes through.

Contract. Student code runs in exactly two kinds of process, each started here and
nowhere else: the **graded kernel** that nbgrader executes the notebook in
(:mod:`.forked_kernel`, forked from the :mod:`.zygote`, or started through
:mod:`.launch`), and the **sandbox** that re-runs the notebook's code for the
verification (:mod:`.sandbox`). Before the first student line runs, each

* enters the **jail** (:mod:`.jail`): a root of its own with the system, the
  Python environment and the grader's packages read-only and a private copy of
  its submission folder as its working folder; an unprivileged uid without
  capabilities; a PID namespace (it sees and signals only itself, everything it
  starts dies with it, at most a few hundred processes); no network; an
  environment cut to an allow-list. ``c.StudentCodeJail.enabled = False`` is the
  one way to run without it, and where the jail cannot work grading refuses;
* applies the **limits** (:mod:`.limits`): address space, file size, CPU time,
  no core dumps, death with its parent.

Around the jail (:mod:`.jail`, :mod:`.syscalls`): nothing the grader holds
open reaches inside (stdin is ``/dev/null``, stdout and stderr a pipe to the
keeper, which passes a bounded, defused copy to a log and nothing to a
terminal); the grader's session keyring is left for an empty one; RAM-backed
files outside the jail's own tmpfs, System V IPC, larger socket buffers, socket
families the namespaces do not confine (``AF_VSOCK``), new namespaces and
mounts, the key store and ptrace are refused by a seccomp filter; open files are
bounded. The kernel's sockets live on a small tmpfs of their own inside the jail
(a mount point, which student code cannot swap for a link), reached by the
grader through ``/proc/<keeper>/root``: no path of the grader's disk is
writable from inside.

Before the jail (:mod:`.intake`): a submission folder is untrusted data that
the grader reads with its own rights, at collect, autograde, feedback, the
cluster's task files and the copy into the jail. It is read without following
any link or opening anything but plain files and folders, within bounds.

In the sandbox, torch's own dropout cannot run (:mod:`.torch_dropout_off`):
before the notebook's cells load, every dropout operator gets a kernel on
every dispatch key that names the call on a pipe only the grader reads and
refuses it, from any thread or forked child, TorchScript included; the
registrations are unreachable from Python, so the course's "from scratch" rule
is decided where student code cannot undo it.

What comes back: the kernel's messages over its Unix sockets (judged by nbgrader
and then re-judged), and the sandbox's answers as JSON and raw tensor bytes,
never pickle (:mod:`.wire`), each read by a deadline, within a budget sized from
its request and checked for its form before use (:mod:`.sandbox`): whatever it
sends costs the grader no more than a few genuine answers, and any fault is the
student's loss of that check. Checks, nbgrader plugins and instructors' tools
call this package; none of them forks, execs or mounts on behalf of student code.

Not covered here, and what needs a machine of its own: CPU time shared with the
grader while a cell runs, memory as one total across a jail's processes (each
is bounded, and their number: a cgroup would bound the sum), and bugs in the
Linux kernel itself.
"""
