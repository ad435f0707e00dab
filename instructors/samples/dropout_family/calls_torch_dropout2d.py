# about: hands Part 1 to torch: dropout2d calls F.dropout2d, so every channel check fails on the rule
# copies: 1
# expect-fail: test_channel_defaults test_channel_whole test_channel_rate test_channel_independence test_channel_ranks test_channel_autograd test_channel_inplace test_channel_invalid_p test_channel_from_scratch test_channel_module_forward test_channel_module
# %% dropout2d_function
def dropout2d(x, p=0.5, training=True, inplace=False):
    """Channel dropout, like torch.nn.functional.dropout2d."""
    return F.dropout2d(x, p, training, inplace)
