# about: multiplies by Gaussian noise instead of a 0/1 mask: wrong everywhere, graded as fast as a right answer
# copies: 1
# expect-fail: test_function_drop_rate test_function_edge_cases test_function_scaling test_function_shape_dtype_device test_module_construction test_module_forward test_module_module_state test_module_train_eval_toggle test_overfitting
# %% dropout_function
def dropout(x, p=0.5, training=True, inplace=False):
    """Multiplicative Gaussian noise with mean 1: the expected value is right, nothing is dropped."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training:
        return x
    noise = 1 + torch.randn_like(x) * (p / (1 - p)) ** 0.5 if p < 1 else torch.zeros_like(x)
    return x.mul_(noise) if inplace else x * noise
