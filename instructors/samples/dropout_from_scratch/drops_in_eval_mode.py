# about: ignores training=False, so dropout stays on at evaluation time
# copies: 4
# expect-fail: test_function_eval_mode test_module_forward test_module_train_eval_toggle test_overfitting test_pipeline
# %% dropout_function
def dropout(x, p=0.5, training=True, inplace=False):
    """Inverted dropout, like torch.nn.functional.dropout."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0.0:
        return x
    if p == 1.0:
        return x.mul_(0.0) if inplace else x * 0.0
    mask = (torch.rand_like(x, dtype=torch.float32) >= p).to(x.dtype) / (1.0 - p)
    return x.mul_(mask) if inplace else x * mask
