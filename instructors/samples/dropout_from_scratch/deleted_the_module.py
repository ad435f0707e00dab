# about: the module cell was emptied, so Dropout (and the model built from it) is missing
# copies: 2
# expect-fail: test_module_construction test_module_forward test_module_module_repr test_module_module_state test_module_train_eval_toggle test_overfitting test_pipeline
# %% dropout_module
# I ran out of time for Part 2.
