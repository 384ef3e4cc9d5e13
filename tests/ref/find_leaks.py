#!/usr/bin/python3
"""find_leaks.py - the privacy check of tests/cli/test_dicom.sh: does any identifying value
(one per line in IDS) appear in the given files? HDF5 files are searched twice: their raw
bytes, and every string h5py reads from them (datasets and attributes, so that compressed
or chunked storage cannot hide a value). Prints each leak; exit 1 when there is one."""
import sys

ids = [line.rstrip("\n") for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
texts = {}
for path in sys.argv[2:]:
    blob = open(path, "rb").read().decode("latin-1")
    if blob.startswith("\x89HDF"):
        try:
            import h5py

            parts = []

            def visit(name, obj):
                parts.append(name)
                for k, v in obj.attrs.items():
                    parts.append("%s=%r" % (k, v))
                if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "SOU":
                    parts.extend(x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
                                 for x in obj[()].ravel())

            with h5py.File(path, "r") as f:
                for k, v in f.attrs.items():
                    parts.append("%s=%r" % (k, v))
                f.visititems(visit)
            blob += "\n".join(parts)
        except ImportError:
            pass
    texts[path] = blob
leaks = [(v, p) for v in ids for p, t in texts.items() if v in t]
for v, p in leaks:
    print("leak: %r in %s" % (v, p))
sys.exit(1 if leaks else 0)
