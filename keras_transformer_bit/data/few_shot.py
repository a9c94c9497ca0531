"""Seeded, stratified few-shot sampling: exactly k examples of every class."""

import numpy as np

from keras_transformer_bit.utils import check_positive_int


def few_shot_indices(labels, shots, seed=0, num_classes=None, class_names=None):
    """Picks `shots` example indices per class, without replacement.

    The BiT few-shot protocol (Kolesnikov et al. 2019, §4.2) fine-tunes on k
    examples of every class; the same `seed` gives the same subset.

    Args:
        labels: 1-D int array of class labels.
        shots: int. Examples per class (k).
        seed: int. Seed of the draw. Defaults to `0`.
        num_classes: int or `None`. When given, every class in
            `[0, num_classes)` must be present; otherwise the classes are the
            labels that occur.

    Returns:
        A sorted int64 array of `shots * num_classes` indices into `labels`.

    Raises:
        ValueError: if `shots` is not a positive int or exceeds the size of
            the smallest class.

    Example:
    >>> few_shot_indices([0, 0, 1, 1, 1, 2, 2], shots=2, seed=0).shape
    (6,)
    """
    shots = check_positive_int("shots", shots)
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f"labels must be 1-D. Received: labels with shape {labels.shape}"
        )
    if num_classes is None:
        classes = np.unique(labels)
    else:
        num_classes = check_positive_int("num_classes", num_classes)
        classes = np.arange(num_classes)
    counts = np.array([np.count_nonzero(labels == c) for c in classes])
    if counts.size == 0:
        raise ValueError("few-shot sampling needs at least one labelled example.")
    smallest = int(np.argmin(counts))
    if shots > counts[smallest]:
        label = classes[smallest]
        named = f" ({class_names[label]!r})" if class_names is not None else ""
        raise ValueError(
            f"shots={shots} exceeds the smallest class: class {label}{named} "
            f"has {counts[smallest]} example{'s' * bool(counts[smallest] != 1)}. "
            f"Expected shots <= {counts[smallest]}."
        )
    rng = np.random.default_rng(seed)
    picked = [
        rng.choice(np.flatnonzero(labels == c), size=shots, replace=False)
        for c in classes
    ]
    return np.sort(np.concatenate(picked)).astype("int64")
