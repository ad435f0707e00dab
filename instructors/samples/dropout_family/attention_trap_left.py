# about: fixed F.dropout in both models but left scaled_dot_product_attention's dropout_p on in eval mode
# copies: 2
# expect-fail: test_fixed_attention
# %% fixed_models
class AttentionBlock(HandedOutAttentionBlock):
    """The same block, with every dropout following the mode."""

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p)
        attended = attended.transpose(1, 2).reshape(n, t, d)
        x = x + F.dropout(self.out(attended), self.p, training=self.training)
        return x + F.dropout(self.ff(self.norm2(x)), self.p, training=self.training)


class SmallCNN(HandedOutSmallCNN):
    """The same CNN, with every dropout following the mode."""

    def forward(self, x):
        h = F.dropout2d(F.max_pool2d(F.relu(self.conv1(x)), 2), self.p, training=self.training)
        h = F.dropout2d(F.max_pool2d(F.relu(self.conv2(h)), 2), self.p, training=self.training)
        return self.head(F.dropout(h.flatten(1), self.p, training=self.training))
