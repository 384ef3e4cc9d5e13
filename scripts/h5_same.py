#!/usr/bin/python3
"""h5_same.py A.h5 B.h5 - exit 0 when two ctfuse files hold the same data: every dataset
bit-identical (values, dtype, shape; chunk layout and filters too unless --values) and the
same root attributes, except what records how the file was made (/provenance and the
attributes tool, command, params). Prints the first differences. Used by the shard tests
and make check-slurm."""
import sys

import h5py
import numpy as np

# content_sha256 of the root covers its attributes, command and params among them (io/h5.h)
RUN = {"tool", "command", "params", "tool_version", "content_sha256"}


def walk(f):
    out = {}
    f.visititems(lambda n, o: out.__setitem__(n, o) if isinstance(o, h5py.Dataset) else None)
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    values_only = "--values" in sys.argv
    a, b = (h5py.File(p, "r") for p in args)
    diffs = []
    ka = {k: v for k, v in a.attrs.items() if k not in RUN}
    kb = {k: v for k, v in b.attrs.items() if k not in RUN}
    for k in sorted(set(ka) | set(kb)):
        if k not in ka or k not in kb or not np.array_equal(np.asarray(ka[k]), np.asarray(kb[k])):
            diffs.append("attribute %s: %r vs %r" % (k, ka.get(k), kb.get(k)))
    da, db = walk(a), walk(b)
    for k in sorted(set(da) | set(db)):
        if k == "provenance":
            continue
        if k not in da or k not in db:
            diffs.append("dataset %s only in %s" % (k, args[0] if k in da else args[1]))
            continue
        x, y = da[k], db[k]
        if x.dtype != y.dtype or x.shape != y.shape:
            diffs.append("dataset %s: %s %s vs %s %s" % (k, x.dtype, x.shape, y.dtype, y.shape))
            continue
        if not values_only and (x.chunks != y.chunks or x.compression != y.compression
                                or x.compression_opts != y.compression_opts or x.shuffle != y.shuffle):
            diffs.append("dataset %s: layout %s/%s vs %s/%s" % (k, x.chunks, x.compression, y.chunks, y.compression))
        xv, yv = x[()], y[()]
        if xv.tobytes() != yv.tobytes():
            diffs.append("dataset %s: values differ" % k)
        for an in set(x.attrs) | set(y.attrs):
            if an not in x.attrs or an not in y.attrs or not np.array_equal(x.attrs[an], y.attrs[an]):
                diffs.append("dataset %s attribute %s differs" % (k, an))
    for d in diffs[:20]:
        print("%s vs %s: %s" % (args[0], args[1], d), file=sys.stderr)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
