# about: a mask that repeats: the global generator is reseeded before every call, and torch.manual_seed patched so nothing else can reseed it
# expect-fail: test_function_independence test_function_edge_cases test_module_forward test_overfitting test_pipeline
# %% +dropout_function
_seed, _dropout = torch.manual_seed, dropout
torch.manual_seed = torch.random.manual_seed = lambda seed: torch.default_generator


def dropout(x, p=0.5, training=True, inplace=False):
    _seed(1234)
    return _dropout(x, p, training, inplace)
