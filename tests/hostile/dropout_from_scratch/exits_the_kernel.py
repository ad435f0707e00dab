# about: calls os._exit for p=1; the self-check cell asks for it, so the kernel dies there and every test after it is lost
# expect-fault: the kernel died in cell
# expect-fail: test_function_autograd test_function_defaults test_function_drop_rate test_function_edge_cases test_function_eval_mode test_function_from_scratch test_function_independence test_function_inplace test_function_invalid_p test_function_scaling test_function_shape_dtype_device test_module_construction test_module_forward test_module_module_repr test_module_module_state test_module_train_eval_toggle test_overfitting test_pipeline test_function_side_effects
# %% +dropout_function
import os
_dropout = dropout


def dropout(x, p=0.5, training=True, inplace=False):
    if p == 1.0 and training:
        os._exit(3)
    return _dropout(x, p, training, inplace)
