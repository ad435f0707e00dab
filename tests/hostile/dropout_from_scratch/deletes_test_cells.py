# about: unscaled dropout, and test cells deleted
# base: no_scaling
# tamper: delete_tests
# expect-fault: nbgrader cells were deleted
# expect-fail: test_function_scaling test_module_forward test_overfitting
