# about: own_style's answers copied, with the names, comments and layout changed: the similarity check must pair the two
# copies: 1
# expect-fail:
# %% dropout_function
def _validate_probability(q):
    # torch raises this exact error for a bad p
    if q < 0 or q > 1:
        raise ValueError(f'dropout probability has to be between 0 and 1, but got {q}')


def dropout(x, p=0.5, training=True, inplace=False):
    """Inverted dropout, like torch.nn.functional.dropout."""
    _validate_probability(p)

    if not training or p == 0:
        return x

    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)   # survivors are scaled up
    noise = torch.empty_like(x,
                             dtype=torch.float32).uniform_()
    keep_mask = (noise > p).to(x.dtype)
    if inplace:
        return x.mul_(keep_mask).mul_(scale)
    return x * keep_mask * scale
# %% dropout_module
class Dropout(nn.Module):
    """Like torch.nn.Dropout: drops in training mode, the identity in evaluation mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _validate_probability(p)   # fail early, like torch
        self.p, self.inplace = p, inplace

    def forward(self, inputs):
        # only drop while training
        if self.training:
            return dropout(inputs, p=self.p, training=True, inplace=self.inplace)
        return inputs

    def extra_repr(self):
        return 'p={}, inplace={}'.format(self.p, self.inplace)
