"""Per-image preprocessing for BiT: decode, RGB, resize, random crop and flip.

Every random op is stateless and takes an explicit seed, so a pipeline is
reproducible from one integer while each element and each epoch still gets its
own draw (see `image_classification_pipeline`).
"""

import tensorflow as tf

# The first bytes of each format `tf.io.decode_image` reads (it tells them
# apart by the same bytes); WebP is `RIFF`, 4 bytes of size, then `WEBP`.
IMAGE_SIGNATURES = {
    "JPEG": b"\xff\xd8\xff",
    "PNG": b"\x89PNG",
    "GIF": b"GIF8",
    "BMP": b"BM",
}


def image_format(head):
    """The format of encoded image bytes from their first 12, or None.

    Args:
        head: bytes. The start of the file (at least 12 bytes when it has
            them).

    Returns:
        `"JPEG"`, `"PNG"`, `"GIF"`, `"BMP"`, `"WebP"`, or None when the bytes
        are none of those (the decoder would refuse them).

    Example:
    >>> image_format(b"GIF89a"), image_format(b"<svg/>")
    ('GIF', None)
    """
    for name, signature in IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


IMAGE_FORMATS = "JPEG, PNG, GIF, BMP or WebP"
# The marker a complete file of the format holds; a file cut short (an
# interrupted download, upload or copy) lacks it, and its decoder's own error
# would name neither the file nor the cause.
_END_MARKERS = {"JPEG": b"\xff\xd9", "PNG": b"IEND"}


def _contains(strings, marker):
    return tf.strings.split(strings, sep=marker).row_lengths() > 1


def _uint32_le(images, position):
    """The little-endian uint32 at byte `position` of each string (int64)."""
    padded = tf.strings.substr(images + b"\0" * (position + 4), position, 4)
    # (N, 4); the reshape gives an empty batch (0, 4), not decode_raw's (0, 0).
    octets = tf.reshape(tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int64), [-1, 4])
    return tf.reduce_sum(octets * tf.constant([1, 256, 65536, 16777216], tf.int64), -1)


def encoded_image_checks(images):
    """`(known, whole)`: which encoded images are of a format read, and uncut.

    `known`: the first bytes are a JPEG's, PNG's, GIF's, BMP's or WebP's.
    `whole`: a JPEG or PNG holds its end marker; a GIF ends with its trailer
    (`;`); a BMP or WebP is at least as long as the size its header gives.
    A file cut short (an interrupted download, upload or copy) fails these;
    a JPEG cut short and given an end marker does not (only decoding shows
    it). Neither is true of an empty string.

    Args:
        images: a 1-D `tf.string` tensor of encoded images.

    Returns:
        Two bool tensors of the shape of `images`.
    """
    images = tf.convert_to_tensor(images, tf.string)
    known = tf.zeros_like(images, tf.bool)
    whole = tf.ones_like(images, tf.bool)
    for name, signature in IMAGE_SIGNATURES.items():
        is_format = tf.equal(tf.strings.substr(images, 0, len(signature)), signature)
        known = known | is_format
        if name in _END_MARKERS:
            whole = whole & (~is_format | _contains(images, _END_MARKERS[name]))
    # RIFF, 4 bytes of size, WEBP; padded so that short strings have a byte 8.
    head = tf.strings.substr(images + b"\0" * 12, 0, 12)
    webp = tf.equal(tf.strings.substr(head, 0, 4), b"RIFF") & tf.equal(
        tf.strings.substr(head, 8, 4), b"WEBP"
    )
    length = tf.cast(tf.strings.length(images), tf.int64)
    # The RIFF size counts the bytes after the first 8.
    whole = whole & (~webp | (length >= _uint32_le(images, 4) + 8))
    # A BMP's header gives its file size (some writers leave it 0).
    bmp = tf.equal(tf.strings.substr(images, 0, 2), IMAGE_SIGNATURES["BMP"])
    whole = whole & (~bmp | (length >= _uint32_le(images, 2)))
    gif = tf.equal(tf.strings.substr(images, 0, 4), IMAGE_SIGNATURES["GIF"])
    # The last byte, at index `length` once a byte is put in front (so an
    # empty string has one too).
    position = tf.cast(length, tf.int32)
    last_byte = tf.strings.substr(b"\0" + images, position, tf.ones_like(position))
    whole = whole & (~gif | tf.equal(last_byte, b";"))
    return known | webp, whole


def read_image_file(path):
    """Reads an image file's bytes, failing with its path unless it is whole.

    A file that is not of a format `decode_image` reads, or one cut short
    (see `encoded_image_checks`), fails here with an `InvalidArgumentError`
    that names the path, instead of in the decoder, whose error names no
    file.

    Args:
        path: a scalar `tf.string`.

    Returns:
        The file's bytes, a scalar `tf.string`.
    """
    encoded = tf.io.read_file(path)
    known, whole = encoded_image_checks(encoded[tf.newaxis])
    reason = tf.where(
        known[0],
        "is truncated (a JPEG or PNG without its end marker, a GIF without its "
        "trailer, a BMP or WebP shorter than its header says): replace or remove it",
        f"is not a {IMAGE_FORMATS} image: replace or remove it",
    )
    check = tf.debugging.Assert(
        known[0] & whole[0], [tf.strings.format("{} {}", (path, reason))]
    )
    with tf.control_dependencies([check]):
        return tf.identity(encoded)


def _check_channels(channels):
    if channels is not None and channels not in (1, 2, 3, 4):
        raise ValueError(
            "images must have 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) "
            f"channels. Received: an image with {channels} channels"
        )


def to_rgb(image):
    """Returns a float32 RGB image `(H, W, 3)` with values in [0, 255].

    Grayscale is repeated over the three channels; an alpha channel is
    composited over a white background (transparent pixels of icons and
    stamps carry arbitrary colours).

    Args:
        image: `(H, W)` or `(H, W, C)` pixels with C in {1, 2, 3, 4}, uint8 or
            float in [0, 255].

    Example:
    >>> to_rgb(tf.zeros((4, 5), "uint8")).shape
    TensorShape([4, 5, 3])
    """
    image = tf.convert_to_tensor(image)
    if image.shape.rank == 2:
        image = image[..., tf.newaxis]
    if image.shape.rank != 3:
        raise ValueError(
            "an image must have rank 2 (H, W) or 3 (H, W, C). "
            f"Received: an image of shape {image.shape}"
        )
    _check_channels(image.shape[-1])
    image = tf.cast(image, tf.float32)
    opaque = tf.fill(tf.concat([tf.shape(image)[:2], [1]], 0), 255.0)
    if image.shape[-1] is not None:
        channels = image.shape[-1]
        color = image[..., : 3 if channels >= 3 else 1]
        alpha = image[..., -1:] if channels in (2, 4) else opaque
    else:
        channels = tf.shape(image)[-1]
        tf.debugging.assert_less_equal(
            channels, 4, message="images must have at most 4 channels"
        )
        color, alpha = tf.switch_case(
            channels - 1,
            [
                lambda: (image[..., :1], opaque),
                lambda: (image[..., :1], image[..., 1:2]),
                lambda: (image[..., :3], opaque),
                lambda: (image[..., :3], image[..., 3:4]),
            ],
        )
    # Gray (one channel) broadcasts to three; RGB stays.
    color = tf.broadcast_to(color, tf.concat([tf.shape(color)[:2], [3]], 0))
    alpha = alpha / 255.0
    rgb = color * alpha + 255.0 * (1.0 - alpha)
    return tf.ensure_shape(rgb, [None, None, 3])


def decode_image(image):
    """Decodes encoded JPEG/PNG/GIF/BMP bytes, or passes pixels through; to RGB.

    Args:
        image: a scalar tf.string of encoded bytes, or `(H, W)` / `(H, W, C)`
            pixels.

    Returns:
        float32 `(H, W, 3)` in [0, 255].
    """
    image = tf.convert_to_tensor(image)
    if image.dtype == tf.string:
        if image.shape.rank != 0:
            raise ValueError(
                "encoded images must be scalar strings (one image per "
                f"element). Received: shape {image.shape}"
            )
        image = tf.io.decode_image(image, channels=0, expand_animations=False)
    return to_rgb(image)


def _seed_pair(seed, offset):
    return tf.stack([tf.cast(seed, tf.int64), tf.constant(offset, tf.int64)])


def preprocess_for_training(image, seed, resize_size, crop_size):
    """Resizes to `resize_size` square, crops `crop_size` at random, maybe flips.

    The BiT fine-tuning augmentation (Kolesnikov et al. 2019, §3.3).

    Args:
        image: encoded bytes or pixels (see `decode_image`).
        seed: int64 scalar tensor; every element needs its own.
        resize_size: int.
        crop_size: int, <= `resize_size`.
    """
    image = decode_image(image)
    image = tf.image.resize(image, [resize_size, resize_size])
    image = tf.image.stateless_random_crop(
        image, [crop_size, crop_size, 3], seed=_seed_pair(seed, 0)
    )
    return tf.image.stateless_random_flip_left_right(image, seed=_seed_pair(seed, 1))


def preprocess_for_evaluation(image, crop_size):
    """Resizes straight to `crop_size` square, as the BiT evaluation does."""
    image = decode_image(image)
    return tf.image.resize(image, [crop_size, crop_size])
