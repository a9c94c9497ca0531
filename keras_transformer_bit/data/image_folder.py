"""Image folders: one subfolder per class, e.g. the Tux Paint stamps."""

import collections
import os
import warnings

from keras_transformer_bit.data.image_preprocessing import image_format
from keras_transformer_bit.data.labeled_images import LabeledImages

# The formats `tf.io.decode_image` reads (TensorFlow 2.21: WebP included).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")


def _extension(file_name):
    extension = os.path.splitext(file_name)[1].lower()
    return extension or "(no extension)"


def _is_image(path):
    """Whether the file starts as an image of a format the decoder reads."""
    try:
        with open(path, "rb") as file:
            return image_format(file.read(12)) is not None
    except OSError:
        return False


def _skipped_message(
    directory, extensions, skipped_files, loose_files, lost, not_images=()
):
    parts = []
    if not_images:
        shown = ", ".join(not_images[:5]) + (", ..." if len(not_images) > 5 else "")
        parts.append(
            f"{len(not_images)} not images despite their names (their bytes are "
            f"not JPEG, PNG, GIF, BMP or WebP, or they are empty: {shown})"
        )
    if skipped_files:
        counts = ", ".join(
            f"{count} {extension}" for extension, count in skipped_files.most_common()
        )
        parts.append(
            f"{counts} (formats it does not read; it reads {', '.join(extensions)})"
        )
    if loose_files:
        shown = ", ".join(loose_files[:5]) + (", ..." if len(loose_files) > 5 else "")
        parts.append(
            f"{len(loose_files)} not a class subfolder but directly in it ({shown})"
        )
    total = sum(skipped_files.values()) + len(loose_files) + len(not_images)
    noun = "file" if total == 1 else "files"
    message = f"load_image_folder skipped {total} {noun} under {directory!r}"
    message += (": " + "; ".join(parts)) if parts else ""
    if lost:
        message += "; and class subfolders " + ", ".join(
            f"{name} ({reason})" for name, reason in lost
        )
    return message + "."


def _class_images(directory, class_directory, extensions, skipped, not_images):
    """The sorted image paths under one class folder; counts what is not one."""
    files = []
    for root, _, names in os.walk(class_directory):
        for file in names:
            path = os.path.join(root, file)
            if not file.lower().endswith(extensions):
                skipped[_extension(file)] += 1
            elif _is_image(path):
                files.append(path)
            else:
                not_images.append(os.path.relpath(path, directory))
    return sorted(files)


def load_image_folder(directory, extensions=IMAGE_EXTENSIONS, min_examples=1):
    """Reads `directory/<class name>/**/<image>` into a `LabeledImages`.

    Every immediate subfolder is a class (sorted by name, so labels are
    stable); its images are collected recursively. Files are read lazily.
    Whatever is left out is reported in one `UserWarning`: files of other
    formats counted by extension (SVG, for one, is a vector format that
    TensorFlow does not decode; convert it to PNG first), files with an
    image's extension whose first bytes are not an image's (named: a text
    file called `.jpg`, an empty file), files outside the class subfolders,
    and subfolders with too few images. Each file's first 12 bytes are read
    for that, so a bad file is named here rather than failing a decode in
    the middle of training.

    Args:
        directory: str. The root folder.
        extensions: tuple of str (or one str). File name endings counted as images
            (case-insensitive). Defaults to PNG, JPEG, GIF, BMP and WebP.
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
    if isinstance(extensions, str):
        # One ending, not its characters: ".jpg" is not (".", "j", "p", "g").
        extensions = (extensions,)
    extensions = tuple(e.lower() for e in extensions)
    class_names, paths, labels = [], [], []
    skipped_files, loose_files, lost = collections.Counter(), [], []
    not_images = []  # an image's name, not an image's bytes
    for name in sorted(os.listdir(directory)):
        class_directory = os.path.join(directory, name)
        if not os.path.isdir(class_directory):
            loose_files.append(name)
            continue
        files = _class_images(
            directory, class_directory, extensions, skipped_files, not_images
        )
        if len(files) < max(min_examples, 1):
            if files:
                lost.append((name, f"{len(files)} < min_examples={min_examples}"))
            else:
                lost.append((name, "no images"))
            continue
        paths.extend(files)
        labels.extend([len(class_names)] * len(files))
        class_names.append(name)
    if not class_names:
        raise ValueError(
            f"no class subfolders with images ({', '.join(extensions)}) "
            f"found under {directory!r}."
        )
    if skipped_files or loose_files or lost or not_images:
        warnings.warn(
            _skipped_message(
                directory, extensions, skipped_files, loose_files, lost, not_images
            ),
            stacklevel=2,
        )
    return LabeledImages(paths, labels, class_names)
