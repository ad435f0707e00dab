# about: every answer right, handed in two and a half hours after the due date
# late-by-minutes: 150
# expect-status: late
