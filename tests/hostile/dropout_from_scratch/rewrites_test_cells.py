# about: unscaled dropout, and an input transformer that deletes the grader's calls from every cell the kernel runs after it
# base: no_scaling
# expect-fault: passed in the notebook's kernel but failed when verified outside it
# expect-fail: test_function_scaling test_module_forward test_overfitting
# %% +dropout_function
def _drop_tests(lines):
    return ["pass\n"] if any("assert_check" in line or "check_pipeline" in line for line in lines) else lines

get_ipython().input_transformers_post.append(_drop_tests)
