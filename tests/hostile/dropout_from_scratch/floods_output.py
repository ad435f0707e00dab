# about: a correct dropout that prints 30 MB when its cell runs and a long line to stdout and stderr on every call
# %% +dropout_function
import sys
print("x" * 30_000_000)
_dropout = dropout


def dropout(x, p=0.5, training=True, inplace=False):
    print("dropout called " * 2000)
    print("warning from the student " * 100, file=sys.stderr)
    return _dropout(x, p, training, inplace)
