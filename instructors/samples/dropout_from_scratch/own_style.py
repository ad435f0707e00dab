# about: correct, written in a style of its own (a strict uniform draw, a helper that checks p); one classmate hands in a renamed copy of it
# copies: 1
# expect-fail:
# %% dropout_function
def _check_rate(rate):
    if rate < 0 or rate > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {rate}")


def dropout(x, p=0.5, training=True, inplace=False):
    """Inverted dropout, like torch.nn.functional.dropout."""
    _check_rate(p)
    if not training or p == 0:
        return x
    # one uniform number per element, in float32 so that half precision is not too coarse
    uniform = torch.empty_like(x, dtype=torch.float32).uniform_()
    survivors = (uniform > p).to(x.dtype)
    factor = 0.0 if p == 1 else 1.0 / (1.0 - p)
    if inplace:
        return x.mul_(survivors).mul_(factor)
    return x * survivors * factor
# %% dropout_module
class Dropout(nn.Module):
    """Like torch.nn.Dropout: drops in training mode, the identity in evaluation mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _check_rate(p)
        self.p, self.inplace = p, inplace

    def forward(self, x):
        if self.training:
            return dropout(x, p=self.p, training=True, inplace=self.inplace)
        return x

    def extra_repr(self):
        return "p={}, inplace={}".format(self.p, self.inplace)
