# about: the instructor's solution from source/, as a student who gets everything right
# copies: 3
# expect-fail:
