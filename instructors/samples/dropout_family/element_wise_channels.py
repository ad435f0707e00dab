# about: dropout2d copied from dropout: every value drawn on its own, so feature maps are only thinned
# copies: 2
# expect-fail: test_channel_defaults test_channel_whole test_channel_rate test_channel_independence test_channel_ranks test_channel_module_forward
# %% dropout2d_function
def dropout2d(x, p=0.5, training=True, inplace=False):
    """Channel dropout, like torch.nn.functional.dropout2d."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if x.dim() != 4:
        warnings.warn("dropout2d expects a 4-D input", UserWarning)
    if not training or p == 0.0:
        return x
    if x.dim() < 2:
        raise RuntimeError("dropout2d needs channels")
    if p == 1.0:
        return x.mul_(0.0) if inplace else x * 0.0
    keep = torch.rand_like(x, dtype=torch.float32) >= p
    mask = keep.to(x.dtype) / (1.0 - p)
    return x.mul_(mask) if inplace else x * mask
