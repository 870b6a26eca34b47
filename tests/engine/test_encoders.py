"""Skeleton encoders: every registered entry and every shipped JSON config builds, runs forward and
backward on the CPU with the documented shapes, round-trips its weights and config, and rejects
wrong input. Shift-GCN's shift operations are checked against literal loops over the official
index formulas, and the fused graph convolution against the official einsum."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from engine.encoders import (
    CONFIG_DIR,
    SKELETON_ENCODERS,
    create_skeleton_encoder,
    encoder_config_names,
    list_skeleton_encoders,
    load_encoder_config,
)
from engine.encoders.blocks import DataBatchNorm, GraphConv
from engine.encoders.shift_gcn import ShiftGraphConv, TemporalShift, spatial_shift_index, temporal_shift
from engine.skeleton.graph import Graph

T = 16  # small windows keep the file fast; two stride-2 blocks leave T / 4 frames


def batch(n: int = 2, t: int = T, m: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, t, 25, m, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_registry_holds_every_encoder():
    assert list_skeleton_encoders() == ["shift_gcn", "stgcn", "tcn"]
    assert {"stgcn", "stgcn_small", "shift_gcn", "tcn"} <= set(encoder_config_names())


def test_tcn_sees_velocities_and_every_body():
    """The TCN's input is each frame's joints and their change since the previous frame: a still pose
    and the same pose moving differ, and a second body changes the features (mean over bodies)."""
    model = create_skeleton_encoder("tcn").eval()
    still = torch.zeros(1, 3, T, 25, 1) + torch.randn(1, 3, 1, 25, 1)
    moving = still + torch.linspace(0, 0.5, T)[None, None, :, None, None]
    with torch.inference_mode():
        assert not torch.allclose(model.features(still), model.features(moving))
        two = torch.cat([moving, torch.randn_like(moving)], dim=4)
        assert not torch.allclose(model.features(moving), model.features(two))


@pytest.mark.parametrize("name", list_skeleton_encoders())
def test_forward_backward_shapes(name):
    model = create_skeleton_encoder(name, num_classes=7).train()
    x = batch()
    logits = model(x)
    assert logits.shape == (2, 7)
    f = model.features(x)
    assert f.shape == (2, model.feature_dim) and f.dtype == torch.float32
    torch.nn.functional.cross_entropy(logits, torch.tensor([1, 3])).backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not missing, f"no gradient reached {missing}"


@pytest.mark.parametrize("config_name", encoder_config_names())
def test_json_configs_build_and_name_their_source(config_name):
    key, config = load_encoder_config(config_name)
    doc = json.loads((CONFIG_DIR / f"{config_name}.json").read_text())
    assert doc["encoder"] == key and len(doc["source"]) > 20
    assert config.to_dict() == {**config.to_dict(), **doc["config"]}  # the file says what the config holds
    model = create_skeleton_encoder(key, config).eval()
    with torch.inference_mode():
        out = model(batch(m=1))
    assert out.shape == (2, config.num_classes or model.feature_dim)
    assert torch.isfinite(out).all()


def test_parameter_counts_match_the_reference_implementations():
    # docs/speed.md#reference-implementations: yysijie/st-gcn 3.10 M, the SMIE/PGFA small ST-GCN 0.82 M.
    counts = {}
    for name in ("stgcn", "stgcn_small", "shift_gcn"):
        model = create_skeleton_encoder(*load_encoder_config(name))
        counts[name] = sum(p.numel() for p in model.parameters())
    assert abs(counts["stgcn"] - 3.10e6) < 0.01e6
    assert abs(counts["stgcn_small"] - 0.82e6) < 0.005e6
    # Shift-GCN: official minus its frozen xpos offsets and index arrays (buffers here)
    assert 0.68e6 < counts["shift_gcn"] < 0.70e6


def test_small_stgcn_is_the_smie_architecture():
    key, config = load_encoder_config("stgcn_small")
    model = create_skeleton_encoder(key, config)
    assert model.feature_dim == 256 and model.head is None
    chans = [b.gcn.out_channels for b in model.st_gcn_networks]
    assert chans == [16, 16, 16, 16, 32, 32, 32, 64, 64, 256]
    strides = [b.tcn[2].stride[0] for b in model.st_gcn_networks]
    assert strides == [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert [b.tcn[4].p for b in model.st_gcn_networks] == [0.0] + [0.5] * 9  # no dropout in block 1
    assert model.st_gcn_networks[0].residual is None and model.data_bn.num_features == 75


@pytest.mark.parametrize("name", list_skeleton_encoders())
def test_headless_config_returns_features(name):
    model = create_skeleton_encoder(name, {"num_classes": 0}).eval()
    x = batch()
    with torch.no_grad():
        assert torch.equal(model(x), model.features(x))
    assert not any(n.startswith("head") for n, _ in model.named_parameters())


@pytest.mark.parametrize("name", list_skeleton_encoders())
@pytest.mark.parametrize("shape", [(2, 3, T, 18, 2), (2, 2, T, 25, 2), (2, 3, T, 25), (3, T, 25, 2)])
def test_bad_shape_is_a_clear_error(name, shape):
    model = create_skeleton_encoder(name, num_classes=0)
    with pytest.raises(ValueError) as err:
        model(torch.zeros(shape))
    assert "(N, 3, T, 25, M)" in str(err.value) and str(tuple(shape)) in str(err.value)


def test_non_float_input_and_too_many_bodies_are_errors():
    model = create_skeleton_encoder("stgcn", num_classes=0)
    with pytest.raises(ValueError, match="floating-point"):
        model(torch.zeros(1, 3, T, 25, 1, dtype=torch.long))
    shift = create_skeleton_encoder("shift_gcn", num_classes=0)
    with pytest.raises(ValueError, match="M=3"):
        shift(torch.zeros(1, 3, T, 25, 3))


@pytest.mark.parametrize("name", list_skeleton_encoders())
def test_state_dict_round_trip_gives_identical_output(name):
    a = create_skeleton_encoder(name, num_classes=5)
    with torch.no_grad():  # make the BatchNorm statistics non-trivial first
        a.train()(batch(seed=1))
    a.eval()
    torch.manual_seed(123)
    b = create_skeleton_encoder(name, a.config.to_dict()).eval()
    x = batch(seed=2)
    with torch.no_grad():
        assert not torch.equal(a(x), b(x))
        b.load_state_dict(a.state_dict())
        assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("name", list_skeleton_encoders())
def test_config_dict_round_trip_and_overrides(name):
    cls = SKELETON_ENCODERS.get(name)
    config = cls.config_cls(num_classes=3)
    again = cls.config_cls.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and isinstance(again.channels, tuple)
    model = create_skeleton_encoder(name, config, channels=[8, 8, 16], strides=[1, 2, 1])
    assert model.feature_dim == 16 and model.config.channels == (8, 8, 16)
    assert model(batch(n=1, m=1)).shape == (1, 3)
    with pytest.raises(ValueError, match="no field"):
        create_skeleton_encoder(name, {"chanels": [8]})
    with pytest.raises(ValueError, match="no field"):
        create_skeleton_encoder(name, None, widht=3)
    with pytest.raises(TypeError):
        create_skeleton_encoder(name, object())
    with pytest.raises(ValueError, match="strides"):
        create_skeleton_encoder(name, channels=[8, 8], strides=[1])
    if name != "tcn":  # the graph encoders' input normalisation has variants; the TCN's has one
        with pytest.raises(ValueError, match="data_bn"):
            cls.config_cls(data_bn="bodies")


def test_stgcn_graph_fields_are_checked_when_the_config_is_made():
    with pytest.raises(ValueError, match="partition strategy"):
        create_skeleton_encoder("stgcn", graph_strategy="star")
    with pytest.raises(ValueError, match="not a joint"):
        create_skeleton_encoder("stgcn", graph_center="nose")
    with pytest.raises(ValueError, match="odd"):
        create_skeleton_encoder("stgcn", temporal_kernel=4)
    exact = create_skeleton_encoder("stgcn", graph_spatial_distance="exact", num_classes=0)
    assert not torch.equal(exact.A, create_skeleton_encoder("stgcn", num_classes=0).A)


def test_unknown_encoder_and_config():
    with pytest.raises(KeyError, match="unknown skeleton encoder"):
        create_skeleton_encoder("ctrgcn")
    with pytest.raises(FileNotFoundError, match="stgcn_small"):
        load_encoder_config("no_such_config")


def test_load_encoder_config_from_a_path(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"encoder": "stgcn", "source": "test", "config": {"channels": [8, 16],
                                                                                  "strides": [1, 2]}}))
    key, config = load_encoder_config(path)
    assert key == "stgcn" and config.channels == (8, 16) and config.num_classes == 60
    path.write_text(json.dumps({"encoder": "stgcn", "config": {"chanels": [8]}}))
    with pytest.raises(ValueError, match="mine.json.*no field"):
        load_encoder_config(path)
    path.write_text(json.dumps({"encoder": "nope", "config": {}}))
    with pytest.raises(ValueError, match="unknown encoder"):
        load_encoder_config(str(path))


def test_features_average_the_bodies():
    # "vc" data BatchNorm shares statistics between bodies, so in eval mode each body runs alone
    model = create_skeleton_encoder("stgcn", num_classes=0, channels=[16, 16, 32], strides=[1, 2, 1]).eval()
    x = batch(n=2, m=2)
    with torch.no_grad():
        per_body = [model.features(x[..., i : i + 1].contiguous()) for i in range(2)]
        both = model.features(x)
    # relative only: with the official initialisation, untrained eval-mode features are tiny
    assert not torch.allclose(per_body[0], per_body[1], rtol=1e-2, atol=0)
    torch.testing.assert_close(both, (per_body[0] + per_body[1]) / 2, rtol=1e-4, atol=0)


@pytest.mark.parametrize("name", list_skeleton_encoders())
def test_odd_windows_and_single_bodies_run(name):
    model = create_skeleton_encoder(name, num_classes=0).eval()
    with torch.no_grad():
        for x in (batch(n=1, t=15, m=2), batch(n=3, t=9, m=1)):
            f = model.features(x)
            assert f.shape == (x.shape[0], model.feature_dim) and torch.isfinite(f).all()


@pytest.mark.parametrize("mode", ["vc", "mvc"])
def test_data_bn_normalises_each_joint_coordinate_as_the_official_flattening(mode):
    bn = DataBatchNorm(3, 25, mode, num_bodies=2)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    bn.eval()
    x = batch(n=2, m=2)
    with torch.no_grad():
        out = bn(x).view(2, 2, 3, T, 25)  # (N * M, C, T, V) -> N, M, C, T, V
    ref = torch.empty_like(out)
    for m in range(2):
        for v in range(25):
            for c in range(3):
                # official ST-GCN: feature v * C + c of (N * M, V * C, T); Shift-GCN: m * V * C + v * C + c
                k = v * 3 + c + (m * 75 if mode == "mvc" else 0)
                scale = bn.weight[k] / torch.sqrt(bn.running_var[k] + bn.eps)
                ref[:, m, c, :, v] = (x[:, c, :, v, m] - bn.running_mean[k]) * scale + bn.bias[k]
    torch.testing.assert_close(out, ref)


def test_data_bn_mvc_with_fewer_bodies_uses_the_first_bodies_statistics():
    bn = DataBatchNorm(3, 25, "mvc", num_bodies=2)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
    bn.eval()
    x = batch(n=2, m=2)
    with torch.no_grad():
        two = bn(x).view(2, 2, 3, T, 25)
        one = bn(x[..., :1]).view(2, 1, 3, T, 25)
    torch.testing.assert_close(one[:, 0], two[:, 0])
    bn.train()
    before = bn.running_mean.clone()
    bn(x[..., :1])
    assert not torch.equal(bn.running_mean[:75], before[:75])
    assert torch.equal(bn.running_mean[75:], before[75:])


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("strategy", ["spatial", "uniform"])
def test_graph_conv_equals_the_official_einsum(n, strategy):
    a = torch.tensor(Graph(strategy=strategy).A)
    a = a * torch.rand_like(a)  # edge importance
    k = a.shape[0]
    layer = GraphConv(6, 5, k)
    x = torch.randn(n, 6, 7, 25, requires_grad=True)
    out = layer(x, a)
    reference = torch.einsum("nkctv,kvw->nctw", layer.conv(x).view(n, k, 5, 7, 25), a)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-6)
    g = torch.randn_like(out)
    gx, = torch.autograd.grad(out, x, g)
    gx_ref, = torch.autograd.grad(reference, x, g)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("channels", [3, 8, 64])
@pytest.mark.parametrize("direction", [1, -1])
def test_spatial_shift_index_is_the_official_formula(channels, direction):
    v = 25
    loop = np.empty(v * channels, dtype=np.int64)
    for i in range(v):
        for j in range(channels):
            # official shift_in: (i*C + j + j*C) % (C*25); shift_out: (i*C + j - j*C) % (C*25)
            loop[i * channels + j] = (i * channels + j + direction * j * channels) % (channels * v)
    index = spatial_shift_index(v, channels, direction)
    assert np.array_equal(index, loop)
    # meaning: channel j of joint i reads joint (i + direction * j) mod 25
    x = torch.arange(v * channels).view(1, v, channels)
    y = x.view(1, -1).index_select(1, torch.from_numpy(index)).view(1, v, channels)
    for i in (0, 7, 24):
        for j in range(channels):
            assert y[0, i, j] == x[0, (i + direction * j) % v, j]


def test_shift_graph_conv_equals_a_literal_reference():
    layer = ShiftGraphConv(4, 6).eval()
    with torch.no_grad():
        layer.feature_mask.uniform_(-1, 1)
        layer.linear_bias.uniform_(-1, 1)
        layer.bn.running_mean.uniform_(-1, 1)
    x = torch.randn(2, 4, 5, 25)
    with torch.no_grad():
        out = layer(x)
        n, c, t, v = x.shape
        ref = torch.empty(n, 6, t, v)
        mask = torch.tanh(layer.feature_mask) + 1
        lin = torch.empty(n, t, v, 6)
        for i in range(v):
            shifted = torch.stack([x[:, j, :, (i + j) % v] for j in range(c)], dim=-1)  # (n, t, c)
            lin[:, :, i] = (shifted * mask[i]) @ layer.linear_weight + layer.linear_bias
        for i in range(v):
            for d in range(6):
                ref[:, d, :, i] = lin[:, :, (i - d) % v, d]
        bn = layer.bn
        flat = ref.permute(0, 2, 3, 1).reshape(n * t, v * 6)
        flat = (flat - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
        ref = flat.view(n, t, v, 6).permute(0, 3, 1, 2) + layer.down(x)
    torch.testing.assert_close(out, torch.relu(ref), rtol=1e-4, atol=1e-5)


def _shift_loop(x: torch.Tensor, shifts: list[int], stride: int = 1) -> torch.Tensor:
    """out[:, c, h] = x[:, c, h * stride + shift_c], zero outside the clip (the official kernel with
    integer positions)."""
    n, c, t, v = x.shape
    t_out = math.ceil(t / stride)
    out = torch.zeros(n, c, t_out, v)
    for ch in range(c):
        for h in range(t_out):
            src = h * stride + shifts[ch]
            if 0 <= src < t:
                out[:, ch, h] = x[:, ch, src]
    return out


def test_temporal_shift_with_integer_shifts_is_a_zero_padded_roll():
    x = torch.randn(2, 5, 9, 25)
    shifts = [-3, -1, 0, 2, 12]
    positions = torch.tensor(shifts, dtype=torch.float32)
    torch.testing.assert_close(temporal_shift(x, positions), _shift_loop(x, shifts))
    torch.testing.assert_close(temporal_shift(x, positions, 2), _shift_loop(x, shifts, 2))
    # the official module adds 0.5 at stride 2: ypos = k - 0.5 samples frame 2h + k exactly
    module = TemporalShift(5, stride=2)
    with torch.no_grad():
        module.ypos.copy_(torch.tensor(shifts) - 0.5)
    torch.testing.assert_close(module(x), _shift_loop(x, shifts, 2))
    assert module(x).shape == (2, 5, 5, 25)  # ceil(9 / 2)


def test_fractional_temporal_shift_interpolates_linearly():
    x = torch.randn(1, 3, 8, 25)
    frac = torch.tensor([0.25, 0.5, 0.9])
    lower = torch.tensor([-2.0, 0.0, 3.0])
    w = frac[None, :, None, None]
    expected = _shift_loop(x, [-2, 0, 3]) * (1 - w) + _shift_loop(x, [-1, 1, 4]) * w
    torch.testing.assert_close(temporal_shift(x, lower + frac), expected)


def test_temporal_shift_gradients():
    x = torch.randn(2, 3, 8, 25)
    exact = TemporalShift(3, shift_grad="exact")
    official = TemporalShift(3, shift_grad="official")
    with torch.no_grad():
        official.ypos.copy_(exact.ypos)
    g = torch.randn(2, 3, 8, 25)
    (exact(x) * g).sum().backward()
    (official(x) * g).sum().backward()
    # exact: d out / d y = x[h + floor(y) + 1] - x[h + floor(y)] (zeros outside)
    lower = torch.floor(exact.ypos.detach()).long().tolist()
    diff = _shift_loop(x, [k + 1 for k in lower]) - _shift_loop(x, lower)
    torch.testing.assert_close(exact.ypos.grad, (diff * g).sum(dim=(0, 2, 3)), rtol=1e-4, atol=1e-4)
    # official applyShiftConstraint: a normalised step of 0.01 in the gradient's direction
    torch.testing.assert_close(official.ypos.grad, 0.01 * torch.sign(exact.ypos.grad))
    # the gradient with respect to the input is the exact adjoint in both
    xr = x.clone().requires_grad_(True)
    (official(xr) * g).sum().backward()
    y0 = exact(x).detach()
    assert torch.allclose((y0 * g).sum(), (xr.grad * x).sum(), rtol=1e-4)


def test_inference_shift_plan_follows_parameter_updates():
    module = TemporalShift(4, stride=2)
    x = torch.randn(1, 4, 10, 25)
    with torch.no_grad():
        cached = module(x)  # grad disabled: the cached plan and the in-place path
    torch.testing.assert_close(cached, module(x).detach())  # grad enabled: the differentiable path
    opt = torch.optim.SGD(module.parameters(), lr=10.0)
    module(x).sum().backward()
    opt.step()  # an in-place update must invalidate the cached plan
    with torch.no_grad():
        after = module(x)
    assert not torch.allclose(after, cached)
    torch.testing.assert_close(after, module(x).detach())
    module.ypos.data.add_(0.3)  # bypasses the version counter: the cache must compare values
    with torch.no_grad():
        cached = module(x)
    torch.testing.assert_close(cached, module(x).detach())
    assert not torch.allclose(cached, after)
    with torch.no_grad():
        assert module(torch.randn(1, 4, 7, 25)).shape == (1, 4, 4, 25)  # another T, another plan


@pytest.mark.parametrize("name", list_skeleton_encoders())
def test_mixed_precision_keeps_float32_features(name):
    # engine.device.autocast is CUDA-only; CPU bfloat16 autocast exercises the same dtype paths.
    model = create_skeleton_encoder(name, num_classes=3, channels=[16, 16, 32], strides=[1, 2, 1])
    x = batch(n=2, m=2)
    model.eval()
    with torch.no_grad():
        ref = model.features(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model.features(x)
    assert low.dtype == torch.float32 and torch.isfinite(low).all()
    assert torch.nn.functional.cosine_similarity(low, ref).min().item() > 0.98
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(model(x).float(), torch.tensor([0, 2]))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    # a model cast as a whole runs in its own dtype, features still come back as float32
    half = model.to(torch.bfloat16).eval()
    with torch.no_grad():
        assert half.features(x.bfloat16()).dtype == torch.float32
        assert half(x.bfloat16()).dtype == torch.bfloat16


def test_latency_helpers_measure_without_changing_the_model_or_torch():
    from engine.encoders.speed import choose_onednn, measure_latency, onednn_enabled

    model = create_skeleton_encoder("stgcn", num_classes=0, channels=[8, 8], strides=[1, 2]).train()
    flag = torch.backends.mkldnn.enabled
    r = measure_latency(model, frames=8, runs=3, warmup=1, onednn=not flag)
    assert set(r) == {"median_ms", "p10_ms", "p90_ms", "min_ms"} and r["min_ms"] <= r["median_ms"]
    assert isinstance(choose_onednn(model, frames=8, rounds=1, runs_per_round=2), bool)
    assert model.training and torch.backends.mkldnn.enabled == flag
    with onednn_enabled(not flag):
        assert torch.backends.mkldnn.enabled == (not flag)
    assert torch.backends.mkldnn.enabled == flag
