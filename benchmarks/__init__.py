"""tinygrad6's benchmark suite: one training step of the chapter's network against a hand-fused numpy floor, the
book's hand-written layers and (when installed) PyTorch, plus the per-op graph overhead, a deep chain and a memory run.

    python -m benchmarks            # the full table (a few minutes)
    python -m benchmarks --quick    # the same scenarios, fewer repetitions (under a minute)
    python -m benchmarks --smoke    # every scenario once at tiny sizes: checks that the suite runs (seconds)

All times are medians of interleaved runs in one process (A B A B ...), BLAS pinned to one thread; the ratios,
not the absolute times, are what to compare across machines. This package imports numpy lazily so that
`python -m benchmarks` can pin the BLAS threads before numpy loads. docs/speed.md has the latest full table and
what it says.
"""
