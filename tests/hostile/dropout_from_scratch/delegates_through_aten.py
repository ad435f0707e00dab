# about: right answers from torch's own kernels reached through torch.ops.aten, torch._VF and a name built at run time
# expect-fail: test_function_defaults test_function_eval_mode test_function_drop_rate test_function_scaling test_function_independence test_function_edge_cases test_function_shape_dtype_device test_function_autograd test_function_inplace test_function_from_scratch test_module_forward test_module_construction test_module_train_eval_toggle test_module_module_state test_function_side_effects test_pipeline test_overfitting
# %% dropout_function
import torch._VF as _VF

_hidden = getattr(torch.nn.functional, "drop" + "out")


def dropout(x, p=0.5, training=True, inplace=False):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if inplace:
        return _hidden(x, p, training, inplace=True)
    if training and 0.0 < p < 1.0 and x.numel() and not x.requires_grad:
        return torch.ops.aten.native_dropout.default(x, p, True)[0]
    return _VF.dropout(x, p, training)
