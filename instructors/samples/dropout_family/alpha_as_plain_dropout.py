# about: AlphaDropout written as ordinary dropout: zeros and 1/(1-p), which breaks SELU's mean and variance
# copies: 2
# expect-fail: test_alpha_values test_alpha_rate test_alpha_autograd
# %% alpha_module
class AlphaDropout(nn.Module):
    """Like torch.nn.AlphaDropout: dropout that keeps zero mean and unit variance for SELU."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        keep = (torch.rand_like(x, dtype=torch.float32) >= self.p).to(x.dtype)
        return x * keep / (1 - self.p)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
