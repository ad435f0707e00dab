# about: the quiz handed in as it was given out
# base: release
# copies: 2
# expect-fail: test_q1 test_q2 test_q3 test_q4 test_q5 test_q6 test_q7 test_q8 test_q9 test_q10 test_q11 test_q12 test_q13 test_q14 test_q15 test_q16 test_q17
