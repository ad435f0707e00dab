# about: the module cell was emptied, so Dropout (and the model built from it) is missing
# copies: 2
# expect-fail: test_module_eval_mode test_module_drop_rate test_module_scaling test_module_independence test_module_edge_cases test_module_invalid_p test_module_shape_dtype_device test_module_autograd test_module_inplace test_module_from_scratch test_module_train_eval_toggle test_module_module_api test_pipeline
# %% dropout_module
# I ran out of time for Part 2.
