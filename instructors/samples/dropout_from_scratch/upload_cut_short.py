# about: the upload was cut short: half a notebook file, which no tool can read
# hand-in: corrupt
# expect-status: failed to grade
