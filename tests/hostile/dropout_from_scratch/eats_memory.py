# about: asks for 12 GiB on every call in training mode (the memory limit makes that an error instead of an exhausted machine)
# expect-fail: test_function_defaults test_function_drop_rate test_function_scaling test_function_independence test_function_edge_cases test_function_shape_dtype_device test_function_autograd test_function_inplace test_module_forward test_module_construction test_module_train_eval_toggle test_module_module_state test_overfitting test_pipeline test_function_side_effects
# %% +dropout_function
_dropout = dropout


def dropout(x, p=0.5, training=True, inplace=False):
    if training and 0.0 <= p <= 1.0:
        hoard = bytearray(12 * 2**30)
    return _dropout(x, p, training, inplace)
