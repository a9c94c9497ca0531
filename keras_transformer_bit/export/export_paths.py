"""Where an export may go: never over an existing one; the next free version."""

import os

from keras_transformer_bit.utils.gfile import gfile, list_names


def _numbered_versions(directory):
    if not gfile.isdir(directory):
        return []
    return [int(name) for name in list_names(directory) if name.isdigit()]


def next_version_path(base):
    """The next TF Serving version directory under `base`: 1, then 2, ...

    TF Serving serves the highest numbered subdirectory of its base path, so
    each export to the next version becomes the one served.

    Example:
    >>> next_version_path("runs/de_en/export")  # with no export there yet
    'runs/de_en/export/1'
    """
    return os.path.join(base, str(max(_numbered_versions(base), default=0) + 1))


def check_new_export_path(path):
    """Refuses an export path that exists, suggesting the next free version.

    An export never replaces what is there: a version directory TF Serving
    may have loaded, a run directory or any folder of files stays as it is.

    Args:
        path: str. The output directory of an export.

    Raises:
        FileExistsError: when `path` exists (a file or a directory, even an
            empty one), naming it and a free path: the next version beside
            a numbered `path` (`bit/1` -> `bit/3` when 1 and 2 exist), the
            next version inside a base directory of numbered versions.

    Example:
    >>> check_new_export_path("exported/bit/1")  # nothing there yet
    """
    # Nor does it write into an existing export (a version being served).
    ancestor = os.path.dirname(str(path).rstrip("/"))
    while ancestor:
        if gfile.exists(ancestor) and not gfile.isdir(ancestor):
            raise FileExistsError(
                f"The export path {path} is under {ancestor}, which is a file, "
                "not a directory: choose a path under a directory."
            )
        if gfile.exists(os.path.join(ancestor, "saved_model.pb")):
            parent = os.path.dirname(ancestor)
            versions = _numbered_versions(parent)
            free = os.path.join(parent, str(max(versions) + 1 if versions else 1))
            raise FileExistsError(
                f"The export path {path} is inside the export {ancestor}; an "
                "export never writes into an existing one: export the next "
                f"version, e.g. {free}."
            )
        if os.path.dirname(ancestor) == ancestor:  # the root
            break
        ancestor = os.path.dirname(ancestor)
    if not gfile.exists(path):
        return
    trimmed = str(path).rstrip("/") or str(path)
    name = os.path.basename(trimmed)
    if name.isdigit():
        parent = os.path.dirname(trimmed)
        free = os.path.join(parent, str(max(_numbered_versions(parent)) + 1))
        hint = f"export the next version, e.g. {free}"
    elif _numbered_versions(trimmed):
        free = os.path.join(trimmed, str(max(_numbered_versions(trimmed)) + 1))
        hint = f"it holds numbered versions: export the next one, e.g. {free}"
    else:
        hint = "choose a new path (for TF Serving, a numbered version, e.g. BASE/1)"
    raise FileExistsError(
        f"The export path {path} already exists; an export never replaces or "
        f"deletes an existing file or directory, so {hint}, or remove it "
        "yourself if it is no longer needed."
    )
