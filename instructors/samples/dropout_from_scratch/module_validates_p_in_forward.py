# about: the module accepts any p when it is built and only fails in forward, unlike torch's
# copies: 2
# expect-fail: test_module_construction
# %% dropout_module
class Dropout(nn.Module):
    """Like torch.nn.Dropout, but p is only checked when the layer runs."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = p
        self.inplace = inplace

    def forward(self, x):
        return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
