# about: unscaled dropout, and failing cells made to look clean: excepthook, tracebacks, error and display output silenced
# base: no_scaling
# expect-fail: test_function_scaling test_module_forward test_overfitting
# %% +dropout_function
import sys
_shell = get_ipython()
sys.excepthook = lambda *args: None
_shell.showtraceback = _shell._showtraceback = lambda *args, **kwargs: None
_shell.set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
_shell.display_pub.publish = lambda *args, **kwargs: None
