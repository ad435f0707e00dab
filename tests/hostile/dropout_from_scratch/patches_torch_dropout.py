# about: unscaled dropout, and torch's own F.dropout and nn.Dropout replaced by the student's, so that comparing with torch compares it with itself
# base: no_scaling
# expect-fault: passed in the notebook's kernel but failed when verified outside it
# expect-fail: test_function_scaling test_module_forward test_overfitting
# %% +dropout_module
torch.nn.functional.dropout = F.dropout = dropout
torch.dropout = lambda x, p, train: dropout(x, p, train)
torch.nn.Dropout = nn.Dropout = torch.nn.modules.dropout.Dropout = Dropout
