# about: unscaled dropout, and Python builtins the tests might use patched (any, all, abs, AssertionError)
# base: no_scaling
# expect-fail: test_function_scaling test_module_forward test_overfitting
# %% +dropout_function
import builtins
builtins.any = lambda iterable: False
builtins.all = lambda iterable: True
builtins.abs = lambda value: 0
builtins.AssertionError = type("AssertionError", (Warning,), {})
