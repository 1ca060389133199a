"""The creator loop with accumulation: x + x, x + x + x, x * x + x and the book's apple example."""

from tiny import Variable


def test_x_plus_x(load):
    x = Variable(3.0)
    y = x + x
    load("accumulate").backward(y)
    assert (y.grad, x.grad) == (1.0, 2.0)


def test_x_plus_x_plus_x(load):
    x = Variable(3.0)
    load("accumulate").backward(x + x + x)
    assert x.grad == 3.0


def test_x_times_x_plus_x(load):
    x = Variable(3.0)
    load("accumulate").backward(x * x + x)  # d/dx (x^2 + x) = 2x + 1
    assert x.grad == 7.0


def test_apple_example(load):
    apple, num, tax = Variable(100.0), Variable(2.0), Variable(1.1)
    load("accumulate").backward(apple * num * tax)
    assert abs(apple.grad - 2.2) < 1e-12 and abs(num.grad - 110.0) < 1e-9 and abs(tax.grad - 200.0) < 1e-12
