"""The TF32 rounding reference shared by the interpreter and GPU tests of the matmul."""
import numpy as np


def tf32_round_bits(bits):
    """Reference on uint32 bit patterns, written by comparisons rather than the kernel's
    add-and-mask: round the 13 dropped bits to nearest, ties away from zero (cvt.rna's
    rule, on the magnitude); a carry may ripple into the exponent (largest finite -> inf);
    inf and NaN are kept as is."""
    b = bits.astype(np.uint64)
    low = b & 0x1FFF
    keep = b & 0xFFFFE000
    up = low >= 0x1000
    out = keep + np.where(up, np.uint64(0x2000), np.uint64(0))
    special = (b & 0x7F800000) == 0x7F800000
    out = np.where(special, b, out)
    assert (out <= 0xFFFFFFFF).all()
    return out.astype(np.uint32)
