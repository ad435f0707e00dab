# about: confuses the modes and swaps precision with recall
# copies: 4
# expect-fail: test_q3 test_q4 test_q9 test_q10
# %% q3_answer
q3 = "b"
# %% q4_answer
q4 = "D"
# %% q9_answer
q9 = 0.85
# %% q10_answer
q10 = 0.895
