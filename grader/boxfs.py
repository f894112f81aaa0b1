"""Files in a folder the programs under test can write.

A test's working folder belongs to the programs it starts: any of them
may have put a symbolic link, a hard link or a FIFO where the test later
writes or reads a file. As root, following such a link would let a
submission overwrite or read any file of the machine through the grader.
So a test touches files there only through these functions: every folder
on the way is opened without following links, the file itself too, and
a file read must be a regular file with one link (a hard link to a
system file looks like an ordinary file, but has two).

Every path must lie inside the folder (top); paths are checked, not
resolved. What a test makes there (owner=(uid, gid)) belongs to the
programs' user, as their own files would in a student's folder: a file a
program must be able to connect to, replace or delete is theirs.
"""

import os
import stat

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(Exception):
    """A path leaves the folder, or names something that is not a plain
    file or folder: what a program put there, not what the test made."""


def _parts(top, path):
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(top))
    parts = rel.split(os.sep)
    if rel == "." or parts[0] == ".." or os.path.isabs(rel):
        raise UnsafePath(f"{path} is not inside {top}")
    return parts


def _own(name, folder_fd, owner):
    if owner is not None:
        os.chown(name, *owner, dir_fd=folder_fd, follow_symlinks=False)


def _open_dir(top, parts, create, owner=None):
    """An fd of the folder top/parts..., walked without following links."""
    fd = os.open(top, DIR_FLAGS)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    _own(part, fd, owner)
                except FileExistsError:
                    pass
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise UnsafePath(f"{part} in {top} is not a folder: {exc.strerror}") from exc
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def make_dirs(top, path, owner=None):
    """mkdir -p path, inside top."""
    os.close(_open_dir(top, _parts(top, path), create=True, owner=owner))


def write_file(top, path, data, owner=None):
    """Creates or replaces the regular file path (folders made as needed)."""
    parts = _parts(top, path)
    folder = _open_dir(top, parts[:-1], create=True, owner=owner)
    try:
        try:
            os.unlink(parts[-1], dir_fd=folder)   # whatever was there, a link included
        except FileNotFoundError:
            pass
        fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW |
                     os.O_CLOEXEC, 0o644, dir_fd=folder)
    finally:
        os.close(folder)
    if owner is not None:
        os.fchown(fd, *owner)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def open_file(top, path):
    """A read-only fd of the regular, singly-linked file path."""
    parts = _parts(top, path)
    folder = _open_dir(top, parts[:-1], create=False)
    try:
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=folder)
    except OSError as exc:
        if exc.errno == 40:    # ELOOP: a symbolic link
            raise UnsafePath(f"{path} is a symbolic link") from exc
        raise
    finally:
        os.close(folder)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        what = "a regular file" if stat.S_ISREG(info.st_mode) else "not a regular file"
        raise UnsafePath(f"{path} is {what} with {info.st_nlink} links")
    os.set_blocking(fd, True)
    return fd


def read_file(top, path, limit=64 << 20):
    """The bytes of the regular file path, at most limit of them."""
    with os.fdopen(open_file(top, path), "rb") as f:
        return f.read(limit)


def symlink(top, target, path, owner=None):
    """A symbolic link at path (inside top) pointing to target."""
    parts = _parts(top, path)
    folder = _open_dir(top, parts[:-1], create=True, owner=owner)
    try:
        os.symlink(target, parts[-1], dir_fd=folder)
        _own(parts[-1], folder, owner)
    finally:
        os.close(folder)


def unlink(top, path):
    parts = _parts(top, path)
    folder = _open_dir(top, parts[:-1], create=False)
    try:
        os.unlink(parts[-1], dir_fd=folder)
    finally:
        os.close(folder)


def lstat(top, path):
    """os.lstat of path, reached without following links; None if absent."""
    parts = _parts(top, path)
    try:
        folder = _open_dir(top, parts[:-1], create=False)
    except (UnsafePath, FileNotFoundError):
        return None
    try:
        return os.stat(parts[-1], dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(folder)
