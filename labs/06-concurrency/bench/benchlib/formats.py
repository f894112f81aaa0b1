"""Figures as the tables print them."""


def sentence(text):
    return text[:1].upper() + text[1:]


def kib(n):
    if n is None:
        return "-"
    if n >= 10 * 1024:
        return "%.0f MiB" % (n / 1024)
    return "%d KiB" % n


def fmt(value, form):
    return "-" if value is None else form % value
