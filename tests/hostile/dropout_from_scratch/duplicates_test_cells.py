# about: unscaled dropout, and test cells followed by a copy with the same grade id that only says pass
# base: no_scaling
# tamper: duplicate_tests
# expect-fault: read-only cells were edited
# expect-fail: test_function_scaling test_module_forward test_overfitting
