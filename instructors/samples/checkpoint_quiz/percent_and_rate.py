# about: writes p as a percentage and an answer that is not a letter
# copies: 3
# expect-fail: test_q2 test_q7
# %% q2_answer
q2 = "nn.Dropout(p=30)"
# %% q7_answer
q7 = 0.8
