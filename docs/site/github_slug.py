"""Heading anchors as GitHub makes them, so that a link such as
01-tcp.md#reading-recv-and-end-of-stream works on GitHub and on the site:
lower case, every character other than a letter, a digit, '_', '-' or a
space dropped, each space turned into '-' (two spaces give '--')."""

import re


def slugify(value, separator="-"):
    text = re.sub(r"[^\w\- ]", "", value.strip().lower())
    return text.replace(" ", separator)
