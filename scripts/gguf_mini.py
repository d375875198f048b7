"""A minimal GGUF v3 writer (our own), for reference generators that run where vkai is not built.
Only what the golden scripts need: scalar/string/array metadata and F32 tensors."""
import struct

import numpy as np

_SCALAR = {  # GGUF value type ids and struct formats
    "u8": (0, "B"), "i8": (1, "b"), "u16": (2, "H"), "i16": (3, "h"), "u32": (4, "I"), "i32": (5, "i"),
    "f32": (6, "f"), "bool": (7, "?"), "u64": (10, "Q"), "i64": (11, "q"), "f64": (12, "d"),
}
_STRING, _ARRAY = 8, 9


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


class Writer:
    def __init__(self, alignment=32):
        self.kv = []
        self.tensors = []
        self.alignment = alignment

    def add(self, key, kind, value):
        """kind: a scalar name from _SCALAR, 'str', or ('arr', elem_kind) with a list value."""
        if kind == "str":
            payload = struct.pack("<I", _STRING) + _str(value)
        elif isinstance(kind, tuple):
            elem = kind[1]
            if elem == "str":
                payload = struct.pack("<IIQ", _ARRAY, _STRING, len(value)) + b"".join(_str(v) for v in value)
            else:
                tid, fmt = _SCALAR[elem]
                payload = struct.pack("<IIQ", _ARRAY, tid, len(value)) + struct.pack("<%d%s" % (len(value), fmt), *value)
        else:
            tid, fmt = _SCALAR[kind]
            payload = struct.pack("<I", tid) + struct.pack("<" + fmt, value)
        self.kv.append(_str(key) + payload)

    def tensor(self, name, array):
        """array: numpy, numpy order (outermost first); written as F32 with ggml dims reversed."""
        self.tensors.append((name, np.ascontiguousarray(array, dtype=np.float32)))

    def write(self, path):
        pad = lambda n: (n + self.alignment - 1) // self.alignment * self.alignment
        infos, offset = [], 0
        for name, a in self.tensors:
            ne = list(reversed(a.shape))
            infos.append(_str(name) + struct.pack("<I", len(ne)) + struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", 0, offset))
            offset = pad(offset + a.nbytes)
        head = b"GGUF" + struct.pack("<IQQ", 3, len(self.tensors), len(self.kv)) + b"".join(self.kv) + b"".join(infos)
        with open(path, "wb") as f:
            f.write(head)
            f.write(b"\0" * (pad(len(head)) - len(head)))
            for name, a in self.tensors:
                b = a.tobytes()
                f.write(b)
                f.write(b"\0" * (pad(len(b)) - len(b)))
