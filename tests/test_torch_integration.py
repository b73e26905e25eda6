"""tritium inside PyTorch: the torch.library custom ops, their fake implementations and
autograd, torch.compile(fullgraph=True), CUDA graph capture, and the drop-in module.

The CPU part runs everywhere (CI included): graphs are traced with fake CUDA tensors
(torch.export in strict mode fails on any graph break) and autograd is traced on meta
tensors, so no kernel runs. The GPU part runs the same code for real and checks numbers
against fp64 references; it skips without a CUDA GPU.
"""
import copy
import importlib
import inspect
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import tritium  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402
from torch.fx.experimental.proxy_tensor import make_fx  # noqa: E402

tritium.matmul  # binds the torch API, which registers the ops that OPS names
OPS = torch.ops.tritium
HAS_GPU = torch.cuda.is_available()
gpu = pytest.mark.skipif(not HAS_GPU, reason="no CUDA GPU")


def _called_ops(gm):
    return [str(n.target) for n in gm.graph.nodes if n.op == "call_function"]


# ---- CPU: the ops as torch sees them -----------------------------------------------------------

class _Embed(torch.nn.Module):
    """A small model: a projection by tritium.matmul, then tritium's triplet loss."""

    def __init__(self, d, device, k=None):
        super().__init__()
        self.w = torch.nn.Parameter(torch.empty(d, k or d, device=device), requires_grad=HAS_GPU)
        self.loss = tritium.TripletMarginLoss(margin=0.5, p=3)

    def forward(self, a, p, n):
        f = lambda x: torch.relu(tritium.matmul(x, self.w))  # noqa: E731
        return self.loss(f(a), f(p), f(n)) + tritium.triplet_margin_loss(
            a, p, n, reduction="none", swap=True, p=math.inf).sum()


def test_export_fullgraph_has_only_tritium_ops():
    """torch.export (strict: Dynamo, no graph break allowed) of a model using both ops; the
    fp32 matmul precision is read from torch's setting when the graph is traced."""
    prev = torch.get_float32_matmul_precision()
    try:
        for precision in ("highest", "high"):
            torch.set_float32_matmul_precision(precision)
            torch._dynamo.reset()
            with FakeTensorMode(allow_non_fake_inputs=True):
                m = _Embed(16, "cuda")
                m.w.requires_grad_(False)  # autograd on fake CUDA tensors needs a CUDA build of torch
                args = tuple(torch.randn(8, 16, device="cuda") for _ in range(3))
                ep = torch.export.export(m, args, strict=True)
            ops = _called_ops(ep.graph_module)
            assert ops.count("tritium.matmul.default") == 3, ops
            assert ops.count("tritium.triplet_margin_loss.default") == 2, ops
            mm = [n for n in ep.graph_module.graph.nodes if str(n.target) == "tritium.matmul.default"]
            assert all(n.args[2] == precision for n in mm)
            assert not [o for o in ops if "aten.mm" in o or "triplet_margin_loss" in o and "tritium" not in o]
    finally:
        torch.set_float32_matmul_precision(prev)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_fake_shapes_match_the_contract(reduction, dtype):
    """The fake implementations give the shapes and dtypes the C API writes (saved: the C size
    query's per-row width: 4 floats, 8 for p = inf)."""
    with FakeTensorMode():
        a = torch.empty(37, 19, device="cuda", dtype=dtype)
        for p, width in ((2.0, 3), (0.5, 3), (math.inf, 6)):
            out, saved = OPS.triplet_margin_loss(a, a, a, 1.0, p, 1e-6, False, reduction, True)
            assert out.shape == ((37,) if reduction == "none" else ()) and out.dtype == dtype
            assert saved.shape == (37, width) and saved.dtype == torch.float32
            out, saved = OPS.triplet_margin_loss(a, a, a, 1.0, p, 1e-6, False, reduction, False)
            assert saved.numel() == 0
        g = a.new_empty((37,) if reduction == "none" else ())
        grads = OPS.triplet_margin_loss_backward(g, a, a, a, saved, 2.0, 1e-6, True, reduction, [True, False, True])
        assert [tuple(x.shape) for x in grads] == [(37, 19), (0,), (37, 19)]
        assert all(x.dtype == dtype for x in grads)
        c = OPS.matmul(a, a.new_empty(19, 5), "high")
        assert c.shape == (37, 5) and c.dtype == dtype and c.is_contiguous()


def test_wrappers_trace_to_one_op_each():
    """The Python wrappers become one tritium op each (broadcasting and strided rows need a
    CUDA build of torch to trace; the GPU tests cover them); no gradient is needed, so the
    forward saves nothing."""
    def f(a, p, n, w):
        return tritium.triplet_margin_loss(a, p, n, swap=True) + tritium.matmul(p, w).sum()

    with FakeTensorMode():
        a, p, n = (torch.randn(8, 16, device="cuda") for _ in range(3))
        w = torch.randn(16, 4, device="cuda")
        gm = make_fx(f)(a, p, n, w)
    ops = _called_ops(gm)
    assert ops.count("tritium.triplet_margin_loss.default") == 1 and ops.count("tritium.matmul.default") == 1

    # 3-D inputs: their leading dimensions fold into rows (views), still one op each
    def g(a, p, n, w):
        return tritium.triplet_margin_loss(a, p, n, reduction="none"), tritium.matmul(p, w)

    with FakeTensorMode():
        a3, p3, n3 = (torch.randn(2, 8, 16, device="cuda") for _ in range(3))
        w = torch.randn(16, 4, device="cuda")
        loss, c = g(a3, p3, n3, w)
        assert loss.shape == (2, 8) and c.shape == (2, 8, 4)
        gm3 = make_fx(g)(a3, p3, n3, w)
    ops = _called_ops(gm3)
    assert ops.count("tritium.triplet_margin_loss.default") == 1 and ops.count("tritium.matmul.default") == 1
    node = next(n for n in gm.graph.nodes if str(n.target) == "tritium.triplet_margin_loss.default")
    assert node.args[3:] == (1.0, 2.0, 1e-6, True, "mean", False)


def _traced_backward(fn, *shapes_and_grads):
    """make_fx of fn followed by autograd.grad, on meta tensors (autograd's graph, no kernels)."""
    leaves = [torch.randn(*s, device="meta", requires_grad=g) for s, g in shapes_and_grads]

    def run(*xs):
        wanted = [x for x in xs if x.requires_grad]
        return torch.autograd.grad(fn(*xs), wanted)

    return make_fx(run, tracing_mode="fake")(*leaves)


def test_triplet_autograd_is_registered():
    """The forward saves its per-row values for the backward; the backward op is asked for
    exactly the gradients needed."""
    def loss(a, p, n):
        return OPS.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, True, "sum", True)[0]

    gm = _traced_backward(loss, ((8, 16), True), ((8, 16), False), ((8, 16), True))
    bw = [n for n in gm.graph.nodes if str(n.target) == "tritium.triplet_margin_loss_backward.default"]
    assert len(bw) == 1 and bw[0].args[-1] == [True, False, True]
    fw = next(n for n in gm.graph.nodes if str(n.target) == "tritium.triplet_margin_loss.default")
    assert bw[0].args[4].args == (fw, 1)  # the saved output, as the forward wrote it


def test_matmul_autograd_is_registered():
    """grad_a = grad @ b^T and grad_b = a^T @ grad, each only when needed, at the forward's precision."""
    mm = lambda a, b: OPS.matmul(a, b, "highest").sum()  # noqa: E731
    for ga, gb, count in ((True, True, 3), (True, False, 2), (False, True, 2)):
        gm = _traced_backward(mm, ((8, 16), ga), ((16, 4), gb))
        nodes = [n for n in gm.graph.nodes if str(n.target) == "tritium.matmul.default"]
        assert len(nodes) == count and all(n.args[2] == "highest" for n in nodes)


def test_module_is_a_drop_in():
    """Same constructor (legacy arguments included), an nn.TripletMarginLoss, same repr, and
    state dicts that load both ways."""
    theirs = torch.nn.TripletMarginLoss(margin=0.25, p=1.0, eps=1e-5, swap=True, reduction="sum")
    ours = tritium.TripletMarginLoss(margin=0.25, p=1.0, eps=1e-5, swap=True, reduction="sum")
    assert isinstance(ours, torch.nn.TripletMarginLoss)
    assert repr(ours) == repr(theirs)
    for name in ("margin", "p", "eps", "swap", "reduction"):
        assert getattr(ours, name) == getattr(theirs, name)
    with pytest.warns(UserWarning, match="size_average"):  # torch's own deprecation warning
        assert tritium.TripletMarginLoss(size_average=False).reduction == "sum"
    with pytest.raises(ValueError, match="margin"):
        tritium.TripletMarginLoss(margin=0.0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.TripletMarginLoss())
    swapped = copy.deepcopy(model)
    swapped[1] = tritium.TripletMarginLoss()
    swapped.load_state_dict(model.state_dict())
    model.load_state_dict(swapped.state_dict())
    assert swapped.state_dict().keys() == model.state_dict().keys()


# ---- GPU: the same, run for real -----------------------------------------------------------------

def _rel(got, ref):
    return ((got.double() - ref).norm() / ref.norm()).item()


def _inputs(n=96, d=80, k=48, seed=None):
    g = torch.Generator(device="cuda")
    g.seed() if seed is None else g.manual_seed(seed)
    a, p, m = (torch.randn(n, d, device="cuda", generator=g) for _ in range(3))
    w = torch.randn(d, k, device="cuda", generator=g) / math.sqrt(d)
    return a, p, m, w


def _reference(a, p, n, w):
    """The model in fp64 with torch's own ops: loss and gradients of (a, w)."""
    a64, w64 = a.double().requires_grad_(), w.double().requires_grad_()
    f = lambda x: torch.relu(x @ w64)  # noqa: E731
    F = torch.nn.functional
    loss = F.triplet_margin_loss(f(a64), f(p.double()), f(n.double()), margin=0.5, p=3) + \
        F.triplet_margin_loss(a64, p.double(), n.double(), reduction="none", swap=True, p=math.inf).sum()
    return (loss, *torch.autograd.grad(loss, (a64, w64)))


def _model(w):
    """The model with weight w."""
    m = _Embed(w.shape[0], "cuda", w.shape[1])
    with torch.no_grad():
        m.w.copy_(w)
    return m


def _grads(model, a, p, n):
    """The model's loss, and its gradients with respect to a and the weight (a compiled
    model's attributes are its original's)."""
    a = a.detach().requires_grad_()
    loss = model(a, p, n)
    return (loss, *torch.autograd.grad(loss, (a, model.w)))


def _model_step(a, p, n, w):
    """Loss and gradients of (a, w) through tritium."""
    return _grads(_model(w), a, p, n)


@gpu
def test_compile_fullgraph_forward_and_backward():
    """torch.compile(model, fullgraph=True): the forward graph holds the tritium ops, and
    AOTAutograd's backward graph their backward ops; results match eager and fp64."""
    prev = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
        for _ in range(2):  # the second call reuses the compiled graphs
            a, p, n, w = _inputs()
            model = _model(w)
            compiled = torch.compile(model, fullgraph=True)
            ref = _reference(a, p, n, w)
            eager = _grads(model, a, p, n)
            got = _grads(compiled, a, p, n)
            for g, e, r, what in zip(got, eager, ref, ("loss", "grad a", "grad w")):
                assert _rel(g, r) < 1e-5, what
                assert _rel(g, e.double()) < 1e-6, what
        assert not torch._dynamo.utils.counters["graph_break"], dict(torch._dynamo.utils.counters["graph_break"])
    finally:
        torch.set_float32_matmul_precision(prev)


@gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_opcheck(dtype):
    """torch.library.opcheck: schema, fake implementation, autograd registration and
    dispatch of every op agree with what the kernels do."""
    a, p, n, w = (t.to(dtype) for t in _inputs(33, 40, 24))
    for t in (a, p, n, w):
        t.requires_grad_()
    for red in ("none", "mean"):
        torch.library.opcheck(OPS.triplet_margin_loss, (a, p, n, 1.0, 2.0, 1e-6, True, red, True))
    out, saved = OPS.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, True, "mean", True)
    g = torch.ones((), device="cuda", dtype=dtype)
    torch.library.opcheck(OPS.triplet_margin_loss_backward,
                          (g, a.detach(), p.detach(), n.detach(), saved, 2.0, 1e-6, True, "mean", [True, True, False]))
    torch.library.opcheck(OPS.matmul, (a, w, "high"))


@gpu
def test_matmul_autograd_matches_torch():
    g = torch.Generator(device="cuda")
    g.seed()
    for shape_a, shape_b, tr in (((70, 33), (33, 50), False), ((33, 70), (50, 33), True), ((33,), (33, 50), False)):
        a = torch.randn(*shape_a, device="cuda", generator=g).requires_grad_()
        b = torch.randn(*shape_b, device="cuda", generator=g).requires_grad_()
        x, y = (a.t(), b.t()) if tr else (a, b)
        c = tritium.matmul(x, y, precision="highest")
        up = torch.randn(c.shape, device="cuda", generator=g)
        ga, gb = torch.autograd.grad(c, (a, b), up)
        a64, b64 = a.detach().double().requires_grad_(), b.detach().double().requires_grad_()
        x64, y64 = (a64.t(), b64.t()) if tr else (a64, b64)
        ra, rb = torch.autograd.grad(x64 @ y64, (a64, b64), up.double())
        assert _rel(ga, ra) < 2e-6 and _rel(gb, rb) < 2e-6, (shape_a, shape_b, tr)
    # a backward with create_graph=True is differentiable in turn (tritium matmuls all the way)
    a = torch.randn(40, 24, device="cuda", generator=g).requires_grad_()
    b = torch.randn(24, 30, device="cuda", generator=g).requires_grad_()
    (ga,) = torch.autograd.grad(tritium.matmul(a, b, precision="highest").pow(2).sum(), (a,), create_graph=True)
    (gb,) = torch.autograd.grad(ga.sum(), (b,))
    a64, b64 = a.detach().double().requires_grad_(), b.detach().double().requires_grad_()
    (ra,) = torch.autograd.grad((a64 @ b64).pow(2).sum(), (a64,), create_graph=True)
    (rb,) = torch.autograd.grad(ra.sum(), (b64,))
    assert _rel(ga, ra) < 2e-6 and _rel(gb, rb) < 2e-6
    for dtype, tol in ((torch.bfloat16, 1.6e-2), (torch.float16, 2e-3)):
        a = torch.randn(64, 96, device="cuda", generator=g).to(dtype).requires_grad_()
        b = torch.randn(96, 40, device="cuda", generator=g).to(dtype).requires_grad_()
        tritium.matmul(a, b).sum().backward()
        ones = torch.ones(64, 40, dtype=torch.float64, device="cuda")
        assert _rel(a.grad, ones @ b.double().t()) < tol and _rel(b.grad, a.double().t() @ ones) < tol


@gpu
def test_cuda_graph_capture_and_replay():
    """Forward and backward of the model captured with torch.cuda.graph, replayed on new data
    copied into the captured inputs."""
    prev = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        static = [t.clone() for t in _inputs()]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            _model_step(*static)  # warm-up outside the capture, as torch.cuda.graph asks
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            outs = _model_step(*static)
        for seed in range(5):
            fresh = _inputs(seed=seed)
            for s, f in zip(static, fresh):
                s.copy_(f)
            graph.replay()
            torch.cuda.synchronize()
            ref = _reference(*fresh)
            for o, r, what in zip(outs, ref, ("loss", "grad a", "grad w")):
                assert _rel(o, r) < 1e-5, f"replay {seed}: {what}"
    finally:
        torch.set_float32_matmul_precision(prev)


_FIRST_CALL_CAPTURE = """
import sys, torch, tritium
sys.path.insert(0, {tests!r})
from test_torch_integration import _inputs, _model_step, _reference, _rel
torch.set_float32_matmul_precision("highest")
static = [t.clone() for t in _inputs()]
x, y = (torch.randn(70, 33, device="cuda", dtype=torch.bfloat16) for _ in range(2))
torch.cuda.synchronize()
graph = torch.cuda.CUDAGraph()
with torch.cuda.graph(graph):  # the process's first tritium calls (library and images load here)
    outs = _model_step(*static)
    prod = tritium.matmul(x, y.t())
for seed in range(3):
    fresh = _inputs(seed=seed)
    for s, f in zip(static, fresh):
        s.copy_(f)
    x.normal_(), y.normal_()
    graph.replay()
    torch.cuda.synchronize()
    errs = [_rel(o, r) for o, r in zip(outs, _reference(*fresh))]
    err_bf16 = _rel(prod, x.double() @ y.double().t())
    assert max(errs) < 1e-5 and err_bf16 < 1e-2, (seed, errs, err_bf16)
print("replayed ok")
"""


@gpu
def test_cuda_graph_capture_as_first_call():
    """A fresh process whose first tritium calls (model forward and backward: matmul,
    triplet forward and backward; a bf16 matmul) are made inside torch.cuda.graph capture,
    with no warm-up; replays on new inputs match fp64."""
    script = _FIRST_CALL_CAPTURE.format(tests=str(Path(__file__).resolve().parent))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "replayed ok" in r.stdout, r.stdout + r.stderr


@gpu
def test_module_matches_torch_module():
    a, p, n, _ = _inputs(50, 30)
    for kw in ({}, {"margin": 0.3, "p": 1, "swap": True, "reduction": "none"}):
        theirs = torch.nn.TripletMarginLoss(**kw)
        ours = tritium.TripletMarginLoss(**kw)
        ours.load_state_dict(theirs.state_dict())
        ref = theirs(a.double(), p.double(), n.double())
        assert _rel(ours(a, p, n), ref) < 2e-5


# ---- examples/kernelbench -------------------------------------------------------------------------

KERNELBENCH = Path(__file__).resolve().parents[1] / "examples" / "kernelbench"


def test_kernelbench_examples_are_drop_ins():
    """Each problem file has the KernelBench shape: Model and ModelNew built from the same
    get_init_inputs(), and get_inputs(); ModelNew calls tritium."""
    sys.path.insert(0, str(KERNELBENCH))
    try:
        for name in ("problem_99_triplet_margin_loss", "problem_8_matmul_irregular"):
            mod = importlib.import_module(name)
            init = mod.get_init_inputs()
            ref, new = mod.Model(*init), mod.ModelNew(*init)
            assert "tritium" in inspect.getsource(type(new).forward) or \
                any("tritium" in type(m).__module__ for m in new.modules())
            shapes = [tuple(x.shape) for x in mod.get_inputs(device="meta")]
            assert shapes == ([(32768, 8192)] * 3 if "99" in name else [(8205, 2949), (2949, 5921)])
            assert ref.state_dict().keys() == new.state_dict().keys()
    finally:
        sys.path.remove(str(KERNELBENCH))


@gpu
def test_kernelbench_check():
    p = subprocess.run([sys.executable, str(KERNELBENCH / "check.py"), "--trials", "2"],
                       capture_output=True, text=True, timeout=600)
    print(p.stdout, p.stderr)
    assert p.returncode == 0 and p.stdout.count("PASS") == 2


@gpu
def test_eager_shortcut_and_ops_agree():
    """In eager mode the wrappers call the kernels without the dispatcher; the ops called
    directly (their registered autograd included) give the same bits."""
    a, p, n, w = _inputs(70, 50, 20)
    leaves = [t.clone().requires_grad_() for t in (a, p, n)]
    loss = tritium.triplet_margin_loss(*leaves, margin=0.7, p=1.5, swap=True, reduction="sum")
    grads = torch.autograd.grad(loss, leaves)
    leaves2 = [t.clone().requires_grad_() for t in (a, p, n)]
    loss2 = OPS.triplet_margin_loss(*leaves2, 0.7, 1.5, 1e-6, True, "sum", True)[0]
    grads2 = torch.autograd.grad(loss2, leaves2)
    assert torch.equal(loss, loss2) and all(torch.equal(x, y) for x, y in zip(grads, grads2))
    wl, wl2 = w.clone().requires_grad_(), w.clone().requires_grad_()
    c, c2 = tritium.matmul(a, wl, precision="high"), OPS.matmul(a, wl2, "high")
    assert torch.equal(c, c2)
    assert torch.equal(torch.autograd.grad(c.sum(), wl)[0], torch.autograd.grad(c2.sum(), wl2)[0])


def test_importing_submodules_keeps_the_api():
    """Importing any of tritium's submodules first (a user's `from tritium._matmul import ...`,
    a tool that walks the package) leaves tritium.matmul and the loss the functions: a
    submodule named like a function would have rebound the name to itself."""
    code = ("import importlib, pkgutil, tritium\n"
            "for m in pkgutil.walk_packages(tritium.__path__, 'tritium.'):\n"
            "    if m.name not in ('tritium.__main__', 'tritium._build_ffi'):\n"
            "        importlib.import_module(m.name)\n"
            "import tritium\n"
            "assert callable(tritium.matmul) and not isinstance(tritium.matmul, type(tritium)), tritium.matmul\n"
            "assert callable(tritium.triplet_margin_loss) and isinstance(tritium.TripletMarginLoss, type)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1] / "python"),
                                                       os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
