# about: the reference answers, graded in the same run as the hostile notebooks
