# about: drops at the right rate but never scales the survivors by 1/(1-p)
# copies: 4
# expect-fail: test_function_scaling test_module_forward test_overfitting
# %% dropout_function
def dropout(x, p=0.5, training=True, inplace=False):
    """Inverted dropout, like torch.nn.functional.dropout."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training:
        return x
    keep = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype)
    return x.mul_(keep) if inplace else x * keep
