"""tinygrad6.init: the standard deviations of the chapter's initial weights, seeding, and the weight_init choices."""

import numpy as np
import pytest

import tinygrad6
from tinygrad6 import init

SHAPE = (100, 100)


@pytest.mark.parametrize("fn, target", [
    (lambda rng: init.normal(SHAPE, 0.01, rng), 0.01),
    (lambda rng: init.uniform(SHAPE, 0.01, rng), 0.01),
    (lambda rng: init.xavier(SHAPE, rng), np.sqrt(1 / 100)),
    (lambda rng: init.xavier_uniform(SHAPE, rng), np.sqrt(1 / 100)),
    (lambda rng: init.he(SHAPE, rng), np.sqrt(2 / 100)),
    (lambda rng: init.he_uniform(SHAPE, rng), np.sqrt(2 / 100)),
], ids=["normal", "uniform", "xavier", "xavier_uniform", "he", "he_uniform"])
def test_sample_std_within_5_percent(fn, target):
    for seed in range(3):
        W = fn(np.random.default_rng(seed))
        assert isinstance(W, np.ndarray) and W.shape == SHAPE and W.dtype == np.float64
        assert abs(W.std() / target - 1) < 0.05
        assert abs(W.mean()) < 3 * target / 100  # centred: 3 standard errors of the mean of 10,000 samples


def test_fan_in_is_the_first_axis_of_the_books_in_out_layout():
    W = init.he((800, 10), rng=0)
    assert abs(W.std() / np.sqrt(2 / 800) - 1) < 0.05


def test_uniform_variants_are_bounded():
    W = init.he_uniform(SHAPE, rng=0)
    assert np.abs(W).max() <= np.sqrt(6 / 100)
    assert np.abs(W).max() > 0.95 * np.sqrt(6 / 100)


def test_zeros_dtype_and_seeding():
    np.testing.assert_array_equal(init.zeros((3, 2)), np.zeros((3, 2)))
    assert init.he((4, 4), rng=0, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(init.xavier((5, 5), rng=7), init.xavier((5, 5), rng=7))
    assert not np.array_equal(init.xavier((5, 5), rng=7), init.xavier((5, 5), rng=8))
    tinygrad6.manual_seed(3)
    a = init.he((5, 5))
    tinygrad6.manual_seed(3)
    np.testing.assert_array_equal(a, init.he((5, 5)))


def test_weight_init_choices():
    assert init.resolve("auto", "relu") == "he"
    assert init.resolve("auto", "sigmoid") == "xavier"
    assert init.resolve("auto", "tanh") == "xavier"
    assert init.resolve("relu", "sigmoid") == "he"  # the book's names: "relu" means He, "sigmoid" Xavier
    assert init.resolve("sigmoid", "relu") == "xavier"
    assert init.resolve(0.01) == 0.01
    assert init.std_of("auto", 50, "relu") == np.sqrt(2 / 50)
    assert init.std_of("xavier", 50) == np.sqrt(1 / 50)
    assert init.std_of(0.01, 50) == 0.01
    with pytest.raises(ValueError, match="weight_init"):
        init.resolve("lecun")
    with pytest.raises(ValueError, match="unknown activation"):
        init.resolve("auto", "softplus")


def test_one_std_of_with_one_meaning():
    # the std of a `weight_init` argument for n_in inputs, for the layers and the activation histograms alike: the
    # experiment's labels name weight_init arguments instead of a second std_of of its own; and no unused
    # init.weight beside it
    from tinygrad6.chapter6.experiments import activation_histograms

    assert not hasattr(activation_histograms, "std_of") and not hasattr(init, "weight")
    stds = {label: init.std_of(choice, 100) for label, choice in activation_histograms.INITS.items()}
    assert stds == {"std=1": 1.0, "std=0.01": 0.01, "Xavier": np.sqrt(1 / 100), "He": np.sqrt(2 / 100)}


@pytest.mark.parametrize("shape, fan_in", [(7, 7), ((7,), 7), ([7, 3], 7), (np.int64(7), 7), ((7, 3, 2), 7)])
def test_a_shape_is_an_int_or_a_sequence(shape, fan_in):
    W = init.he(shape, rng=0)
    assert W.shape == np.empty(shape).shape
    assert init.he_uniform(shape, rng=0).shape == W.shape == init.zeros(shape).shape
    np.testing.assert_array_equal(W, init.normal(shape, np.sqrt(2 / fan_in), rng=0))
    with pytest.raises(ValueError, match=r"fan-in"):
        init.he((0, 3))
