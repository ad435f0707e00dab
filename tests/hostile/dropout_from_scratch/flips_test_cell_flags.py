# about: unscaled dropout, and test cells turned into answer cells, the first worth 100 points
# base: no_scaling
# tamper: flip_flags
# expect-fault: nbgrader metadata of 19 cells was changed (points of test_function_defaults
# expect-fail: test_function_scaling test_module_forward test_overfitting
