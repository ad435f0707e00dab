# about: unscaled dropout, and torch's comparison functions patched to agree with anything
# copies: 1
# base: no_scaling
# expect-fault: passed in the notebook's kernel but failed when verified outside it
# expect-fail: test_function_scaling test_module_forward test_overfitting
# %% +dropout_function
import torch.testing
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = lambda *args, **kwargs: None
torch.Tensor.__ne__ = lambda self, other: torch.zeros_like(self, dtype=torch.bool)
