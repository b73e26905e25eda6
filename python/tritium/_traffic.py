"""The benchmark's traffic reference (bench triplet): Triton kernels that only move a triplet
call's bytes, JIT-compiled at bench time (torch.compile needs Triton there anyway).

`read3` reads a, p and n and writes one float per program, so that the loads stay; `rw3`
reads a, p and n and writes three outputs of their size (a backward's traffic). Each row
takes the fastest of a few tiles: (BLOCK elements per step, warps, steps per program).
What they time is what a kernel that moves the bytes and computes nothing takes at that
size, launch and memory latency included: what any triplet kernel could at best reach. On
sm_90 and newer they are launched as the library launches its triplet kernels, with
programmatic dependent launch (a kernel starts while the one before it drains), unless
TRITIUM_NO_PDL is set."""
import triton
import triton.language as tl

from tritium.kernels.triplet import _dependent_launch

READ_TILES = ((256, 2, 1), (512, 4, 1), (512, 4, 2), (1024, 4, 1), (1024, 8, 1), (2048, 8, 1), (2048, 16, 1),
              (2048, 16, 4), (4096, 16, 1))
WRITE_TILES = ((256, 2, 1), (512, 4, 1), (512, 8, 1), (1024, 8, 1), (1024, 16, 1), (2048, 4, 1), (4096, 8, 2),
               (4096, 16, 1), (8192, 8, 1))
MIN_PROGRAMS = 264  # tiles of several steps only where they still make two programs per SM


@triton.jit
def read3(a, p, n, out, total, BLOCK: tl.constexpr, STEPS: tl.constexpr, PDL: tl.constexpr):
    _dependent_launch(PDL)
    base = tl.program_id(0).to(tl.int64) * (BLOCK * STEPS)
    acc = tl.zeros([BLOCK], tl.float32)
    for i in tl.range(STEPS):
        o = base + i * BLOCK + tl.arange(0, BLOCK)
        m = o < total
        acc += (tl.load(a + o, mask=m, other=0.0).to(tl.float32) + tl.load(p + o, mask=m, other=0.0).to(tl.float32)
                + tl.load(n + o, mask=m, other=0.0).to(tl.float32))
    tl.store(out + tl.program_id(0), tl.sum(acc, axis=0))


@triton.jit
def rw3(a, p, n, ga, gp, gn, total, BLOCK: tl.constexpr, STEPS: tl.constexpr, PDL: tl.constexpr):
    _dependent_launch(PDL)
    base = tl.program_id(0).to(tl.int64) * (BLOCK * STEPS)
    for i in tl.range(STEPS):
        o = base + i * BLOCK + tl.arange(0, BLOCK)
        m = o < total
        x = tl.load(a + o, mask=m).to(tl.float32)
        y = tl.load(p + o, mask=m).to(tl.float32)
        z = tl.load(n + o, mask=m).to(tl.float32)
        tl.store(ga + o, (x - y).to(ga.dtype.element_ty), mask=m)
        tl.store(gp + o, (y - z).to(ga.dtype.element_ty), mask=m)
        tl.store(gn + o, (z - x).to(ga.dtype.element_ty), mask=m)


def _grid(total, block, steps):
    g = triton.cdiv(total, block * steps)
    return None if steps > 1 and g < MIN_PROGRAMS else g


def best_us(device_us, sets, total):
    """(forward, forward+backward): the fastest device times over the tiles of calls moving
    `sets`' inputs (each a, p, n of `total` elements). The forward reads them; the
    forward+backward is two launches, the forward's fastest tile then a tile that reads them
    and writes three outputs."""
    import os
    import torch
    pdl = int(torch.cuda.get_device_capability(sets[0][0].device) >= (9, 0) and not os.environ.get("TRITIUM_NO_PDL"))
    out = torch.empty(triton.cdiv(total, min(block for block, _, _ in READ_TILES)), device=sets[0][0].device)

    def fwd(tile):
        block, warps, steps = tile
        return lambda a, p, n: read3[(_grid(total, block, steps),)](
            a, p, n, out, total, BLOCK=block, STEPS=steps, PDL=pdl, num_warps=warps, launch_pdl=bool(pdl))

    def fwd_bwd(read, tile):
        block, warps, steps = tile

        def call(a, p, n):
            read(a, p, n)
            rw3[(_grid(total, block, steps),)](a, p, n, torch.empty_like(a), torch.empty_like(p), torch.empty_like(n),
                                               total, BLOCK=block, STEPS=steps, PDL=pdl, num_warps=warps,
                                               launch_pdl=bool(pdl))
        return call

    def usable(tiles):
        return [(block, warps, steps) for block, warps, steps in tiles if _grid(total, block, steps)]

    f_us, f_tile = min((device_us(fwd(t), sets), t) for t in usable(READ_TILES))
    fb_us = min(device_us(fwd_bwd(fwd(f_tile), t), sets) for t in usable(WRITE_TILES))
    return f_us, fb_us
