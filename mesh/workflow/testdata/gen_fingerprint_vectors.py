#!/usr/bin/env python3
"""Writes fingerprint_vectors.json: manifests -> feature sets, MinHash signatures, LSH band keys and
pairwise similarities, computed here in Python, independently of the Rust code, from the rules
documented in mesh/workflow/src/fingerprint.rs and havn-types/src/fingerprint.rs.

    python3 mesh/workflow/testdata/gen_fingerprint_vectors.py > mesh/workflow/testdata/fingerprint_vectors.json
"""
import copy
import hashlib
import json
import struct

DOMAIN = b"havn/fingerprint/v1"
SLOTS = 128
GAMMA = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
WIRING = {"from", "to", "args", "latent", "cond", "mask"}
LOADS = {"module", "unet", "model", "tokenizer"}
ROWS = 4


def enc(v):
    if v is None:
        return "n"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, int):
        return f"i{v}"
    if isinstance(v, float):
        return "d" + struct.pack(">d", v).hex()
    if isinstance(v, str):
        return f"s{len(v.encode())}:{v}"
    if isinstance(v, list):
        return "[" + ",".join(enc(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode())
        return "{" + ",".join(enc(k) + ":" + enc(v[k]) for k in keys) + "}"
    raise TypeError(v)


def features(m):
    p = m["pipeline"]
    out = {"kind:" + enc(p["kind"]), "max_output_bytes:" + enc(m.get("max_output_bytes", 16 * 1024 * 1024))}
    config = {k: v for k, v in p.items() if k != "kind"}
    if p["kind"] != "torch":
        for k, v in config.items():
            out.add(f"param:{k}={enc(v)}")
        return sorted(out, key=lambda s: s.encode())
    modules, weights = config.get("modules", {}), config.get("weights", {})
    loras, tokenizers = config.get("loras", {}), config.get("tokenizers", {})
    loads = {}
    for name, h in modules.items():
        ls = [{"file": r["file"].lower(), "scale": r["scale"]} for r in loras.get(name, [])]
        w = weights.get(name)
        loads[name] = enc({"module": h.lower(), "weights": w.lower() if w else None, "loras": ls})
        out.add("artifact:" + enc(h.lower()))
        if w:
            out.add("artifact:" + enc(w.lower()))
        for r in ls:
            out.add("artifact:" + enc(r["file"]))
    for name, h in tokenizers.items():
        loads[name] = enc({"tokenizer": h.lower()})
        out.add("artifact:" + enc(h.lower()))
    made_by = {}
    inp = {k: v for k, v in config["input"].items() if k != "name"}
    made_by[config["input"]["name"]] = "input:" + enc(inp)
    out.add("input:" + enc(inp))
    for step in config["steps"]:
        op = step["op"]
        identity = {"op": op}
        for k, v in step.items():
            if k in WIRING or k == "op":
                continue
            if k in LOADS and isinstance(v, str):
                identity[k] = loads.get(v, "")
            else:
                out.add(f"param:{op}.{k}={enc(v)}")
        feature = "step:" + enc(identity)
        reads = [(k, step[k]) for k in ("from", "latent", "cond") if k in step]
        if op != "hf_tokenize" and "mask" in step:
            reads.append(("mask", step["mask"]))
        reads += [(f"args.{i}", a) for i, a in enumerate(step.get("args", []))]
        for k, name in reads:
            out.add(f"edge:{made_by.get(name, '')}->{op}.{k}")
        if "to" in step:
            made_by[step["to"]] = feature
        if op == "hf_tokenize":
            made_by[step["mask"]] = feature + ".mask"
        out.add(feature)
    o = {k: v for k, v in config["output"].items() if k != "from"}
    out.add("output:" + enc(o))
    out.add(f"edge:{made_by.get(config['output']['from'], '')}->output")
    return sorted(out, key=lambda s: s.encode())


def splitmix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def signature(feats):
    sig = [0xFFFFFFFF] * SLOTS
    for f in feats:
        base = int.from_bytes(hashlib.sha256(DOMAIN + f.encode()).digest()[:8], "big")
        for k in range(SLOTS):
            h = splitmix(base ^ (((k + 1) * GAMMA) & MASK)) >> 32
            sig[k] = min(sig[k], h)
    return sig


def bands(sig, rows):
    out = []
    for i in range(len(sig) // rows):
        d = hashlib.sha256(DOMAIN + b"band" + struct.pack(">H", i) + b"".join(struct.pack(">I", v) for v in sig[i * rows:(i + 1) * rows])).digest()
        out.append(int.from_bytes(d[:8], "big"))
    return out


def similarity(a, b):
    return sum(x == y for x, y in zip(a, b)) * 10000 // SLOTS


H = lambda c: c * 64  # noqa: E731  (a fake sha256 in hex)

IMAGE = {
    "name": "t2i",
    "max_output_bytes": 65536,
    "pipeline": {
        "kind": "torch",
        "modules": {"text_encoder": H("a"), "unet": H("b"), "decoder": H("c")},
        "loras": {"unet": [{"file": H("d"), "scale": 0.8}]},
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
}
EMBED = {
    "name": "embed",
    "max_output_bytes": 4096,
    "pipeline": {
        "kind": "torch",
        "modules": {"minilm": H("E")},
        "tokenizers": {"wordpiece": H("f")},
        "input": {"name": "text", "type": "text", "max_bytes": 4096},
        "steps": [
            {"op": "hf_tokenize", "tokenizer": "wordpiece", "from": "text", "to": "ids", "mask": "mask", "max_length": 256},
            {"op": "module", "module": "minilm", "args": ["ids", "mask"], "to": "hidden"},
            {"op": "mean_pool", "from": "hidden", "mask": "mask", "to": "pooled"},
            {"op": "l2_normalize", "from": "pooled", "to": "embedding"},
        ],
        "output": {"from": "embedding", "encode": "npy", "shape": [1, 384]},
    },
}
DIGEST = {"name": "d", "pipeline": {"kind": "builtin:digest", "rounds": 3}}


def renamed(m):
    """Every value, module and the workflow renamed (the fingerprint must not change)."""
    names = {"prompt": "p0", "tokens": "t0", "cond": "c0", "latent": "z", "image": "img", "text_encoder": "enc"}
    m = copy.deepcopy(m)
    m["name"] = "my-own-art"
    p = m["pipeline"]
    p["modules"] = {names.get(k, k): v for k, v in p["modules"].items()}
    p["input"]["name"] = names[p["input"]["name"]]
    for step in p["steps"]:
        for k in ("from", "to", "latent", "cond", "module"):
            if k in step:
                step[k] = names.get(step[k], step[k])
        if "args" in step:
            step["args"] = [names.get(a, a) for a in step["args"]]
    p["output"]["from"] = names[p["output"]["from"]]
    return m


def one_param(m):
    m = copy.deepcopy(m)
    m["pipeline"]["steps"][3]["steps"] = 20
    return m


def main():
    cases = [("image", IMAGE), ("image-renamed", renamed(IMAGE)), ("image-one-param", one_param(IMAGE)),
             ("embed", EMBED), ("digest", DIGEST)]
    out = {"domain": DOMAIN.decode(), "slots": SLOTS, "rows": ROWS, "manifests": [], "similarity": []}
    sigs = {}
    for name, m in cases:
        f = features(m)
        sig = signature(f)
        sigs[name] = sig
        out["manifests"].append({"name": name, "manifest": json.dumps(m, sort_keys=(name == "image-renamed")),
                                 "features": f, "signature": sig, "bands": [str(b) for b in bands(sig, ROWS)]})
    for a in sigs:
        for b in sigs:
            if a < b:
                out["similarity"].append({"a": a, "b": b, "bps": similarity(sigs[a], sigs[b])})
    json.dump(out, __import__("sys").stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
