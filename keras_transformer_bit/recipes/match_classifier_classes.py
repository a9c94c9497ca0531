"""Line a labelled image set up with a classifier's classes, by name."""


def match_classifier_classes(classifier, images, who, record=False):
    """Returns `images` labelled in `classifier`'s class order, or a clear error.

    A classifier with `class_names` is matched by name
    (`LabeledImages.with_class_names`): a test folder missing one class keeps
    the others' labels, a subset of the classes is fine, a class the
    classifier lacks is refused. A classifier without names can only be
    matched by position, so the class counts must be equal; `record=True`
    then gives it the images' names (as fine-tuning does), so that they
    travel with the model into evaluation and export.

    Args:
        classifier: a `BiTClassifier` (or any Keras classifier; `num_classes`
            and `class_names` are read when it has them).
        images: a `LabeledImages`.
        who: str. The caller, for error messages (e.g. `"bit_fine_tune"`).
        record: bool. Record the images' class names on an unnamed
            classifier. Defaults to `False`.

    Returns:
        A `LabeledImages` whose labels index the classifier's outputs.
    """
    names = getattr(classifier, "class_names", None)
    if names is not None:
        return images.with_class_names(names)
    num_classes = classifier_num_classes(classifier)
    if images.num_classes != num_classes:
        raise ValueError(
            f"{who}: the images have {images.num_classes} classes "
            f"{images.class_names}, but the classifier's head has {num_classes} "
            "outputs and no class_names to match them by. Give the classifier "
            "its class_names (BiTClassifier(..., class_names=[...])) or a head "
            "of one output per class."
        )
    if record:
        classifier.class_names = images.class_names
    return images


def classifier_num_classes(classifier):
    """`classifier.num_classes`, else the size of its (only) output."""
    num_classes = getattr(classifier, "num_classes", None)
    if num_classes is None:
        num_classes = classifier.outputs[0].shape[-1]
    return int(num_classes)
