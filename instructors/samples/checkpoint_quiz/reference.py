# about: every answer right, from the instructor's solutions
# expect-fail:
