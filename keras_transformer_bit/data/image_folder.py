"""Image folders: one subfolder per class, e.g. the Tux Paint stamps."""

import os

from keras_transformer_bit.data.labeled_images import LabeledImages

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def load_image_folder(directory, extensions=IMAGE_EXTENSIONS, min_examples=1):
    """Reads `directory/<class name>/**/<image>` into a `LabeledImages`.

    Every immediate subfolder is a class (sorted by name, so labels are
    stable); its images are collected recursively. Files are read lazily.

    Args:
        directory: str. The root folder.
        extensions: tuple of str. File name endings counted as images
            (case-insensitive).
        min_examples: int. Subfolders with fewer images are skipped.

    Returns:
        A `LabeledImages` of file paths.

    Example:
    >>> stamps = load_image_folder("/usr/share/tuxpaint/stamps")
    >>> stamps.class_names[:3]
    ['animals', 'cartoon', 'clothes']
    """
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"directory must be an existing folder. Received: directory={directory!r}"
        )
    extensions = tuple(e.lower() for e in extensions)
    class_names, paths, labels = [], [], []
    for name in sorted(os.listdir(directory)):
        class_directory = os.path.join(directory, name)
        if not os.path.isdir(class_directory):
            continue
        files = sorted(
            os.path.join(root, file)
            for root, _, files in os.walk(class_directory)
            for file in files
            if file.lower().endswith(extensions)
        )
        if len(files) < max(min_examples, 1):
            continue
        paths.extend(files)
        labels.extend([len(class_names)] * len(files))
        class_names.append(name)
    if not class_names:
        raise ValueError(
            f"no class subfolders with images ({', '.join(extensions)}) "
            f"found under {directory!r}."
        )
    return LabeledImages(paths, labels, class_names)
