# about: unscaled dropout, and a made-up grade cell worth 100 points
# base: no_scaling
# tamper: fake_grade_cell
# expect-fault: claims to be nbgrader cell 'bonus_points'
# expect-fail: test_function_scaling test_module_forward test_overfitting
