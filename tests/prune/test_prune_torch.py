"""Gradual pruning with PyTorch: masks follow the schedule and survive optimizer steps, strip makes
the zeros permanent, and the exported model runs in our Engine with PyTorch's predictions. Also:
the package imports without torch."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from prune_testutil import REPO

from sparse_runtime.prune import ConstantSparsity, PolynomialDecay


def test_package_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import sparse_runtime.prune as p, sparse_runtime.prune.cli\n"
            "try:\n    p.GradualPruner(None, None)\nexcept ImportError as e:\n    print('needs torch:', e)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "needs torch" in r.stdout and "pip install" in r.stdout


torch = pytest.importorskip("torch")
from sparse_runtime.engine import Engine  # noqa: E402
from sparse_runtime.prune import GradualPruner, export_onnx, select_modules  # noqa: E402


def net(seed=0):
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 36, 32), nn.ReLU(), nn.Linear(32, 5))


def train_steps(model, pruner, steps, seed=0):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = []
    for _ in range(steps):
        x = torch.randn(16, 1, 6, 6, generator=g)
        y = torch.randint(0, 5, (16,), generator=g)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        pruner.step()
        history.append({n: float((m.weight == 0).float().mean()) for n, m, _ in pruner._active()})
    return history


def test_select_modules_default_exclusions():
    sel = {n: why for n, _, _, why in select_modules(net())}
    assert sel == {"0": "first conv", "2": None, "5": None, "7": "classifier"}
    sel = {n: why for n, _, _, why in select_modules(net(), exclude=r"^5$", include_first_conv=True)}
    assert sel["0"] is None and sel["5"].startswith("exclude")


def test_masks_follow_the_schedule_and_survive_optimizer_steps():
    model = net()
    sched = PolynomialDecay(0.0, 0.8, begin_step=2, end_step=12, power=3, frequency=5)
    pruner = GradualPruner(model, sched)
    hist = train_steps(model, pruner, 20)
    for step, h in enumerate(hist):
        # the masks change only on pruning steps (2, 7, 12) and hold in between, through momentum
        last = max([k for k in (2, 7, 12) if k <= step], default=None)
        want = 0.0 if last is None else sched(last)[1]
        for name, s in h.items():
            assert s == pytest.approx(want, abs=0.01), (step, name)
    masks = {n: m.clone() for n, m in pruner.masks.items()}
    train_steps(model, pruner, 3, seed=1)
    for n, m, _ in pruner._active():
        assert torch.equal(pruner.masks[n], masks[n])  # after end_step: fixed
        assert (m.weight[~masks[n]] == 0).all()


def test_masks_only_grow():
    model = net()
    pruner = GradualPruner(model, PolynomialDecay(0.0, 0.9, 0, 30, frequency=3))
    prev = {n: torch.ones_like(m) for n, m in pruner.masks.items()}
    for _ in range(31):
        train_steps(model, pruner, 1)
        for n, m in pruner.masks.items():
            assert not (m & ~prev[n]).any(), "a pruned weight came back"
            prev[n] = m.clone()


@pytest.mark.parametrize("pattern", ["4x1", "1x4", "2:4", "channel"])
def test_structured_patterns_during_training(pattern):
    model = net()
    pruner = GradualPruner(model, ConstantSparsity(0.5, begin_step=0, frequency=2), pattern=pattern)
    train_steps(model, pruner, 4)
    w = model[5].weight.detach().numpy()  # Linear [out, in]: layout NK
    z = w == 0
    if pattern == "4x1":
        assert (z.reshape(8, 4, -1) == z.reshape(8, 4, -1)[:, :1]).all()
    elif pattern == "1x4":
        assert (z.reshape(32, -1, 4) == z.reshape(32, -1, 4)[..., :1]).all()
    elif pattern == "2:4":
        assert (z.reshape(32, -1, 4).sum(-1) == 2).all()
    else:
        assert (z.all(1) | ~z.any(1)).all() and z.all(1).sum() == 16
    assert z.mean() == pytest.approx(0.5, abs=0.01)


def test_strip_export_and_run_in_engine(tmp_path):
    model = net()
    pruner = GradualPruner(model, ConstantSparsity(0.7, begin_step=0, frequency=1), scope="global")
    train_steps(model, pruner, 3)
    stripped = pruner.strip()
    assert stripped is model and pruner.masks == {}
    assert all(type(m).__name__ in ("Conv2d", "Linear", "ReLU", "Flatten", "Sequential") for m in model.modules())
    with pytest.raises(RuntimeError, match="strip"):
        pruner.step()
    rep = {n: (p, nz) for n, p, nz, _ in pruner.report()}
    pruned = [k for k in ("2", "5")]
    assert 1 - sum(rep[k][1] for k in pruned) / sum(rep[k][0] for k in pruned) == pytest.approx(0.7, abs=0.01)
    path = export_onnx(model, (torch.zeros(1, 1, 6, 6),), str(tmp_path / "m.onnx"))
    x = np.random.default_rng(0).standard_normal((7, 1, 6, 6)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = Engine(path).run([x])[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    assert (got.argmax(1) == ref.argmax(1)).all()
