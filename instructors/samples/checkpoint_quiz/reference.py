# about: every answer right, from the instructor's solutions
# copies: 6
# expect-fail:
