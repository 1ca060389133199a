"""Chapter 6 of "Deep Learning from Scratch" on tinygrad6: the data (datasets.py), the training loop (train.py),
progress bars (progress.py), one module per experiment (experiments/) and the tour that runs them all (tour.py).
It imports everything below it and nothing imports it, apart from the old names kept in tinygrad6/ (datasets,
train, tour, experiments) that forward here."""
