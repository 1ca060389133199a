"""The chapter's training step on a small MLP, as the compiled-step tests and the drawings of compiled steps use it."""

from tinygrad6 import F, Tensor, nn, optim


def chapter_step(batchnorm=False, dropout=0.0, optimizer="SGD", weight_decay=0.0, lr=0.05, sizes=(12, [10, 10], 5)):
    """The chapter's step on a small MLP; returns (model, optimizer, train_step). optimizer: a name or a class."""
    model = nn.MLP(*sizes, batchnorm=batchnorm, dropout=dropout, rng=0)
    opt_class = optim.OPTIMIZERS[optimizer] if isinstance(optimizer, str) else optimizer
    opt = opt_class(model.parameters(), lr=lr, weight_decay=weight_decay)

    def train_step(x, t):
        opt.zero_grad()
        loss = F.cross_entropy(model(Tensor(x)), t)
        loss.backward()
        opt.step()
        return loss

    return model, opt, train_step
