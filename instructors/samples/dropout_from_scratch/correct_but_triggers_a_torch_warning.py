# about: correct, but copy-constructs a tensor, which makes torch print a UserWarning
# copies: 3
# expect-fail:
# %% dropout_function
def dropout(x, p=0.5, training=True, inplace=False):
    """Inverted dropout, like torch.nn.functional.dropout."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x.mul_(0.0) if inplace else x * 0.0
    exact = torch.tensor(1.0 / (1.0 - p), dtype=torch.float64)
    scale = torch.tensor(exact, dtype=x.dtype)  # warns: torch.tensor() of a tensor
    mask = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype) * scale.to(x.device)
    return x.mul_(mask) if inplace else x * mask
