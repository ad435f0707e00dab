# about: unscaled dropout, and every test cell's code replaced by pass
# copies: 1
# base: no_scaling
# tamper: edit_tests
# expect-fault: read-only cells were edited
# expect-fail: test_function_scaling test_module_forward test_overfitting
