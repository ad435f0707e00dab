# about: a module that stores p as a buffer and has no extra_repr
# copies: 3
# expect-fail: test_module_module_repr test_module_module_state
# %% dropout_module
class Dropout(nn.Module):
    """Like torch.nn.Dropout: drops in training mode, the identity in evaluation mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.register_buffer("rate", torch.tensor(p, dtype=torch.float64))
        self.p = p
        self.inplace = inplace

    def forward(self, x):
        return dropout(x, float(self.rate), self.training, self.inplace)

    def extra_repr(self):
        return ""
