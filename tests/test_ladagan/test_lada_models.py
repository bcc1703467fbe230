"""Generator and discriminator: shapes, latent routing, block wiring, gradients, R1, bf16 autocast."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ladagan import PRESETS, Discriminator, Generator, build
from ladagan.blocks import GeneratorBlock, SelfModulatedLayerNorm
from ladagan.presets import GeneratorConfig

TINY = [name for name in PRESETS if name.startswith("tiny")]


@pytest.mark.parametrize("attention", ["lada", "dot"])
@pytest.mark.parametrize("name", list(PRESETS))
def test_shapes_every_preset_on_meta(name: str, attention: str) -> None:
    preset = PRESETS[name].with_overrides(attention=attention)
    res = preset.resolution
    with torch.device("meta"):
        generator, discriminator = build(preset)
        images = generator(torch.empty(3, generator.z_dim))
        logits = discriminator(images)
    assert generator.img_size == res and generator.z_dim == 128
    assert tuple(images.shape) == (3, 3, res, res)
    assert tuple(logits.shape) == (3, 25)


@pytest.mark.parametrize("name", TINY)
def test_tiny_presets_run_for_real(name: str) -> None:
    torch.manual_seed(0)
    generator, discriminator = build(PRESETS[name])
    images = generator(torch.randn(2, 128))
    res = PRESETS[name].resolution
    assert images.shape == (2, 3, res, res) and torch.isfinite(images).all()
    logits = discriminator(images)
    assert logits.shape == (2, 25) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", ["cifar10", "celeba64"])
def test_full_size_authors_presets_run_at_batch_one(name: str) -> None:
    # init=False: the default init is enough for shapes and keeps this fast.
    generator, discriminator = build(PRESETS[name], init=False)
    with torch.no_grad():
        images = generator(torch.randn(1, 128))
        res = PRESETS[name].resolution
        assert images.shape == (1, 3, res, res)
        discriminator.eval()  # BatchNorm at batch 1 needs running statistics
        assert discriminator(images).shape == (1, 25)


def _tiny_generator(**changes: object) -> Generator:
    """A seeded tiny 32-px generator with config changes."""
    torch.manual_seed(0)
    return Generator(dataclasses.replace(PRESETS["tiny32"].generator, **changes))


def test_latent_reaches_every_sln() -> None:
    generator = _tiny_generator()
    slns = [m for m in generator.modules() if isinstance(m, SelfModulatedLayerNorm)]
    assert len(slns) == 6  # two per block, three blocks
    seen: list[torch.Tensor] = []
    handles = [m.register_forward_pre_hook(lambda _m, args: seen.append(args[1])) for m in slns]
    z = torch.randn(2, 128)
    generator(z)
    for handle in handles:
        handle.remove()
    assert len(seen) == 6 and all(torch.equal(received, z) for received in seen)


def test_changing_z_changes_every_block_output() -> None:
    generator = _tiny_generator()
    blocks = [generator.block_8, generator.block_16, generator.block_32]
    inputs: list[torch.Tensor] = []
    handles = [b.register_forward_pre_hook(lambda _m, args: inputs.append(args[0])) for b in blocks]
    z1, z2 = torch.randn(2, 128), torch.randn(2, 128)
    generator(z1)
    for handle in handles:
        handle.remove()
    with torch.no_grad():
        for block, x in zip(blocks, inputs, strict=True):
            # Same tokens, another latent: the block's output must move (z enters each block directly).
            assert not torch.allclose(block(x, z1), block(x, z2), atol=1e-4)


def test_without_sln_the_latent_enters_only_through_the_input_layer() -> None:
    generator = _tiny_generator(sln=False)
    assert not any(isinstance(m, SelfModulatedLayerNorm) for m in generator.modules())
    x = torch.randn(2, 64, 128)
    with torch.no_grad():
        torch.testing.assert_close(generator.block_8(x, torch.randn(2, 128)), generator.block_8(x, torch.randn(2, 128)))


@pytest.mark.parametrize("mlp_residual", [False, True])
def test_generator_block_mlp_residual_only_when_asked(mlp_residual: bool) -> None:
    torch.manual_seed(0)
    block = GeneratorBlock(16, 2, 32, z_dim=8, mlp_residual=mlp_residual)
    x, z = torch.randn(2, 5, 16), torch.randn(2, 8)
    with torch.no_grad():
        after_attn = x + block.attn(block.norm1(x, z))
        mlp_out = block.mlp(block.norm2(after_attn, z))
        expected = after_attn + mlp_out if mlp_residual else mlp_out
        torch.testing.assert_close(block(x, z), expected)
        # Silence the MLP: without the residual nothing of the stream may survive.
        block.mlp[-1].weight.zero_()
        block.mlp[-1].bias.zero_()
        survivors = block(x, z).abs().max()
    assert (survivors > 0.1) if mlp_residual else (survivors == 0)


def test_discriminator_block_keeps_both_residuals() -> None:
    torch.manual_seed(0)
    discriminator = Discriminator(PRESETS["tiny32"].discriminator)
    block = discriminator.block_16
    x = torch.randn(2, 256, 64)
    with torch.no_grad():
        u = x + block.attn(block.norm1(x))
        torch.testing.assert_close(block(x), u + block.mlp(block.norm2(u)))


@pytest.mark.parametrize("name", ["tiny32", "tiny128"])
def test_every_parameter_gets_a_gradient(name: str) -> None:
    torch.manual_seed(0)
    generator, discriminator = build(PRESETS[name])
    res = PRESETS[name].resolution
    loss = discriminator(generator(torch.randn(2, 128))).mean() + discriminator(torch.randn(2, 3, res, res)).mean()
    loss.backward()
    for label, model in (("G", generator), ("D", discriminator)):
        for pname, p in model.named_parameters():
            assert p.grad is not None, f"{label}.{pname} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{label}.{pname}"
            # The score bias is constant over tokens, so softmax cancels it: its gradient is ~0 by design.
            if not pname.endswith("score.bias"):
                assert p.grad.abs().sum() > 0, f"{label}.{pname} got a zero gradient"


@pytest.mark.parametrize("attention", ["lada", "dot"])
def test_r1_double_backward_through_discriminator(attention: str) -> None:
    torch.manual_seed(0)
    discriminator = Discriminator(dataclasses.replace(PRESETS["tiny32"].discriminator, attention=attention))
    reals = torch.randn(4, 3, 32, 32, requires_grad=True)
    (grad,) = torch.autograd.grad(discriminator(reals).sum(), reals, create_graph=True)
    penalty = grad.square().sum(dim=(1, 2, 3)).mean()
    penalty.backward()
    attn = discriminator.block_16.attn
    assert attn.q.weight.grad is not None and attn.q.weight.grad.abs().sum() > 0
    assert discriminator.stem[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("attention", ["lada", "dot"])
def test_bf16_autocast_forward_backward_and_r1(attention: str) -> None:
    torch.manual_seed(0)
    generator, discriminator = build(PRESETS["tiny32"].with_overrides(attention=attention))
    reals = torch.randn(2, 3, 32, 32, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fake_logits = discriminator(generator(torch.randn(2, 128)))
        real_logits = discriminator(reals)
        (grad,) = torch.autograd.grad(real_logits.float().sum(), reals, create_graph=True)
    loss = fake_logits.float().mean() + grad.square().sum() * 1e-4
    loss.backward()
    assert torch.isfinite(fake_logits.float()).all()
    for p in [*generator.parameters(), *discriminator.parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"img_size": 48}, "img_size 48"),
        ({"img_size": 64, "dims": (128, 64, 30)}, r"dims\[2\]=30 cannot be split into 2x2 patches"),
        ({"img_size": 128, "dec_dims": (16,)}, "dec_dims"),
        ({"heads": (3, 2, 2)}, "heads"),
        ({"attention": "flash"}, "attention 'flash'"),
    ],
)
def test_bad_generator_config_is_named(changes: dict, message: str) -> None:
    cfg: GeneratorConfig = dataclasses.replace(PRESETS["tiny32"].generator, **changes)
    with pytest.raises(ValueError, match=message):
        with torch.device("meta"):
            Generator(cfg)


def test_bad_discriminator_enc_dims_is_named() -> None:
    cfg = dataclasses.replace(PRESETS["tiny64"].discriminator, enc_dims=(16, 32))
    with pytest.raises(ValueError, match="enc_dims .* must have 3 entries at 64 px"):
        Discriminator(cfg)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("attention", ["lada", "dot"])
def test_cuda_bf16_training_step_with_r1(attention: str) -> None:
    torch.manual_seed(0)
    generator, discriminator = build(PRESETS["tiny64"].with_overrides(attention=attention))
    generator, discriminator = generator.cuda(), discriminator.cuda()
    reals = torch.randn(4, 3, 64, 64, device="cuda", requires_grad=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        fake_logits = discriminator(generator(torch.randn(4, 128, device="cuda")))
        (grad,) = torch.autograd.grad(discriminator(reals).float().sum(), reals, create_graph=True)
    (fake_logits.float().mean() + grad.square().sum()).backward()
    for p in [*generator.parameters(), *discriminator.parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all()


def test_down_block_pads_like_tf_same_stride_two() -> None:
    # TF 'same' at stride 2 on an even size pads only bottom/right: output (0, 0) sees input rows/cols 0..2.
    from ladagan.blocks import DownBlock

    torch.manual_seed(0)
    block = DownBlock(2, 3)
    conv = block.main[1]
    x = torch.randn(1, 2, 8, 8)
    with torch.no_grad():
        first = torch.nn.functional.conv2d(x[:, :, :3, :3], conv.weight)
        last = torch.nn.functional.conv2d(torch.nn.functional.pad(x[:, :, 6:, 6:], (0, 1, 0, 1)), conv.weight)
        out = conv(block.main[0](x))
    assert out.shape[-2:] == (4, 4)
    assert torch.allclose(out[:, :, 0, 0], first[:, :, 0, 0], atol=1e-6)
    assert torch.allclose(out[:, :, 3, 3], last[:, :, 0, 0], atol=1e-6)


def test_conv_only_discriminator_drops_just_the_ladaformer() -> None:
    from dataclasses import replace

    cfg = PRESETS["tiny64"].discriminator
    full, conv_only = Discriminator(cfg), Discriminator(replace(cfg, transformer=False))
    names_full = {n for n, _ in full.named_parameters()}
    names_conv = {n for n, _ in conv_only.named_parameters()}
    assert names_conv < names_full
    assert all(n.startswith(("pos_16", "block_16")) for n in names_full - names_conv)
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    logits = conv_only(x)
    assert logits.shape == (2, 25)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    grad.square().sum().backward()  # R1's double backward still works
