# about: unscaled dropout, and the grading library gutted: assert_check a no-op, the checks emptied, the runner's verdicts silenced
# base: no_scaling
# expect-fault: passed in the notebook's kernel but failed when verified outside it
# expect-fail: test_function_scaling test_module_forward test_overfitting
# %% +dropout_function
import autograder, autograder.checks, autograder.runner
assert_check = autograder.assert_check = autograder.runner.assert_check = lambda *args, **kwargs: None
autograder.checks.CHECKS.clear()
autograder.runner.CheckFailed = type("Quiet", (Exception,), {})
