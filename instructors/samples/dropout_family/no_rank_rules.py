# about: right for 4-D input, but silent about other ranks and no error for a 1-D input
# copies: 1
# expect-fail: test_channel_ranks test_channel_module_forward
# %% dropout2d_function
def dropout2d(x, p=0.5, training=True, inplace=False):
    """Channel dropout, like torch.nn.functional.dropout2d."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x.mul_(0.0) if inplace else x * 0.0
    shape = x.shape[:2] + (1,) * (x.dim() - 2) if x.dim() >= 2 else x.shape
    mask = (torch.rand(shape, device=x.device) >= p).to(x.dtype) / (1.0 - p)
    return x.mul_(mask) if inplace else x * mask
