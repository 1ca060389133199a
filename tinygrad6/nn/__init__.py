"""Layers and models for chapter 6, built on the autograd engine (no layer writes its own backward).

    from tinygrad6 import nn
    model = nn.MLP(784, [100, 100], 10, activation="relu", batchnorm=True, dropout=0.2)
    loss = F.cross_entropy(model(x), t) + nn.l2_penalty(model, 1e-4)

module.py   Parameter, Module (parameters, train/eval, state_dict, save/load)
layers.py   Linear, ReLU, Sigmoid, Tanh, Dropout, BatchNorm1d, Sequential
mlp.py      MLP, l2_penalty
"""

from .layers import BatchNorm1d, Dropout, Linear, ReLU, Sequential, Sigmoid, Tanh
from .mlp import MLP, l2_penalty
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "Dropout", "Linear", "MLP", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid",
           "Tanh", "l2_penalty"]
