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

What comes back: the kernel's messages over its Unix sockets (judged by nbgrader
and then re-judged), and the sandbox's answers as JSON and raw tensor bytes,
never pickle (:mod:`.wire`). Checks, nbgrader plugins and instructors' tools call
this package; none of them forks, execs or mounts on behalf of student code.
"""
