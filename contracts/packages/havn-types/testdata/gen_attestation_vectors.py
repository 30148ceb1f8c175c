#!/usr/bin/env python3
"""Writes attestation_vectors.json, possession_vectors.json, mesh_vectors.json, draw_vectors.json and audit_vectors.json: fixed inputs -> preimage and digest, computed here in Python,
independently of the Rust code, from the layout documented in havn-types/src/attestation.rs."""
import hashlib
import json
import struct

DOMAIN = b"havn/attest/v2"
VERDICT = {"valid": 1, "invalid": 2}


def check_byte(check) -> int:
    """0 for structural checks only; 1 + rung for a re-execution decided at that ladder rung."""
    if check == "structural":
        return 0
    return 1 + check["reexecuted"]["rung"]


def field(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def preimage(v: dict) -> bytes:
    return (
        field(DOMAIN)
        + field(v["chain_id"].encode())
        + field(v["execution_log"].encode())
        + struct.pack(">QQ", v["job_id"], v["workflow_id"])
        + bytes.fromhex(v["version_hash"])
        + field(v["node"].encode())
        + bytes.fromhex(v["input_hash"])
        + bytes.fromhex(v["output_hash"])
        + bytes([VERDICT[v["verdict"]], check_byte(v["check"])])
    )


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


VECTORS = [
    dict(name="valid-basic", chain_id="havn-devnet-1",
         execution_log="wasm14hj2tavq8fpesdwxxcu44rty3hh90vhujrvcmstl4zr3txmfvw9s0phg4d",
         job_id=1, workflow_id=1, version_hash=sha("manifest-v1"),
         node="wasm1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjnp7du", input_hash=sha("input"),
         output_hash=sha("output"), verdict="valid", check="structural"),
    dict(name="invalid-verdict", chain_id="havn-devnet-1",
         execution_log="wasm14hj2tavq8fpesdwxxcu44rty3hh90vhujrvcmstl4zr3txmfvw9s0phg4d",
         job_id=1, workflow_id=1, version_hash=sha("manifest-v1"),
         node="wasm1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjnp7du", input_hash=sha("input"),
         output_hash=sha("output"), verdict="invalid", check={"reexecuted": {"rung": 2}}),
    dict(name="large-ids", chain_id="osmosis-1",
         execution_log="osmo1nc5tatafv6eyq7llkr2gv50ff9e22mnf70qgjlv737ktmt4eswrqvlx82r",
         job_id=2**64 - 1, workflow_id=2**32 + 5, version_hash="00" * 32,
         node="osmo1cyyzpxplxdzkeea7kwsydadg87357qnahakaks", input_hash="ff" * 32,
         output_hash="ab" * 32, verdict="valid", check={"reexecuted": {"rung": 0}}),
    dict(name="empty-strings", chain_id="", execution_log="", job_id=0, workflow_id=0,
         version_hash="11" * 32, node="", input_hash="22" * 32, output_hash="33" * 32,
         verdict="invalid", check={"reexecuted": {"rung": 254}}),
]

POSSESSION = [
    dict(chain_id="havn-devnet-1", staking_contract="wasm1nc5tatafv6eyq7llkr2gv50ff9e22mnf70qgjlv737ktmt4eswrqgj33g6",
         operator="wasm1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjnp7du"),
    dict(chain_id="", staking_contract="", operator=""),
]


def possession_digest(v: dict) -> str:
    pre = field(b"havn/pop/v1") + field(v["chain_id"].encode()) + field(v["staking_contract"].encode()) + field(v["operator"].encode())
    return hashlib.sha256(pre).hexdigest()


def hello_digest(v: dict) -> str:
    pre = field(b"havn/hello/v1") + bytes.fromhex(v["challenge"]) + field(v["operator"].encode())
    return hashlib.sha256(pre).hexdigest()


def claim_digest(v: dict) -> str:
    pre = (field(b"havn/claim/v1") + struct.pack(">QI", v["job_id"], v["attempt"])
           + bytes.fromhex(v["output_hash"]) + field(v["executor"].encode()) + field(v["device"].encode()))
    return hashlib.sha256(pre).hexdigest()


def caller_digest(domain: bytes, v: dict) -> str:
    pre = (field(domain) + field(v["chain_id"].encode()) + field(v["execution_log"].encode())
           + struct.pack(">Q", v["job_id"]))
    return hashlib.sha256(pre).hexdigest()


def cancel_digest(v: dict) -> str:
    return caller_digest(b"havn/cancel/v1", v)


def read_digest(v: dict) -> str:
    return caller_digest(b"havn/read/v1", v)


CANCELS = [
    dict(chain_id="havn-devnet-1", execution_log="wasm14hj2tavq8fpesdwxxcu44rty3hh90vhujrvcmstl4zr3txmfvw9s0phg4d", job_id=7),
    dict(chain_id="", execution_log="", job_id=2**64 - 1),
]

HELLO = [
    dict(challenge="07" * 32, operator="wasm1qyqszqgpqyqszqgpqyqszqgpqyqszqgpjnp7du"),
    dict(challenge="00" * 32, operator=""),
]

CLAIMS = [
    dict(job_id=42, attempt=1, output_hash=sha("output"), executor="builtin:digest", device="cpu"),
    dict(job_id=2**64 - 1, attempt=2**32 - 1, output_hash="ff" * 32, executor="", device=""),
]


# Provable draws (havn-types/src/sampling.rs): per-epoch secrets, their commitments, the draw of a
# job's output, and the smallest threshold t meeting the floor, found here by exact integer
# arithmetic: (2^64 - t)^n * 10000 <= (10000 - p) * 2^(64 n).
SEED_DOMAIN = b"havn/seed/v1"


def epoch_secret(master: bytes, epoch: int) -> bytes:
    return hashlib.sha256(SEED_DOMAIN + master + struct.pack(">Q", epoch)).digest()


def draw(secret: bytes, job_id: int, output_hash: bytes) -> int:
    return int.from_bytes(hashlib.sha256(secret + struct.pack(">Q", job_id) + output_hash).digest()[:8], "big")


def exact_threshold(p_bps: int, n: int) -> int:
    if p_bps == 0:
        return 0
    if p_bps >= 10000 or n == 0:
        return 2**64 - 1
    lo, hi = 1, 2**64 - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if (2**64 - mid) ** n * 10000 <= (10000 - p_bps) * 2 ** (64 * n):
            hi = mid
        else:
            lo = mid + 1
    return lo


DRAWS = [
    dict(master="01" * 32, epoch=0, job_id=1, output_hash=sha("output")),
    dict(master="ab" * 32, epoch=2**64 - 1, job_id=2**64 - 1, output_hash="ff" * 32),
    dict(master="00" * 32, epoch=20, job_id=7, output_hash="00" * 32),
]

THRESHOLDS = [(2000, 4), (2000, 1), (1855, 4), (100, 100), (9999, 7), (10000, 4), (0, 4), (500, 0)]


def draw_vector(v: dict) -> dict:
    secret = epoch_secret(bytes.fromhex(v["master"]), v["epoch"])
    return {**v, "secret": secret.hex(), "commitment": hashlib.sha256(secret).hexdigest(),
            "draw": str(draw(secret, v["job_id"], bytes.fromhex(v["output_hash"])))}


# Audits (havn-types/src/audit.rs): a node's Merkle tree of 2^16 leaves per epoch, a job's proof
# (its leaf and the siblings from the leaf up), the job's audit draw, and the threshold of a rate.
LEAF_DOMAIN = b"havn/audit-leaf/v1"
NODE_DOMAIN = b"havn/audit-node/v1"
AUDIT_DOMAIN = b"havn/audit/v1"
AUDIT_DEPTH = 16


def audit_levels(secret: bytes) -> list:
    level = [hashlib.sha256(LEAF_DOMAIN + secret + struct.pack(">Q", i)).digest() for i in range(2**AUDIT_DEPTH)]
    levels = [level]
    while len(level) > 1:
        level = [hashlib.sha256(NODE_DOMAIN + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def audit_tree_vector(secret_hex: str, jobs: list) -> dict:
    levels = audit_levels(bytes.fromhex(secret_hex))
    proofs = []
    for job in jobs:
        index = job % 2**AUDIT_DEPTH
        leaf = levels[0][index]
        path = [levels[k][(index >> k) ^ 1].hex() for k in range(AUDIT_DEPTH)]
        draw = int.from_bytes(hashlib.sha256(AUDIT_DOMAIN + leaf + struct.pack(">Q", job)).digest()[:8], "big")
        proofs.append(dict(job_id=job, leaf=leaf.hex(), path=path, draw=str(draw)))
    return dict(secret=secret_hex, root=levels[-1][0].hex(), proofs=proofs)


AUDIT_TREES = [("01" * 32, [0, 1, 70001, 2**64 - 1]), ("00" * 32, [65535, 65536])]
AUDIT_RATES = [0, 1, 200, 9999, 10000]


if __name__ == "__main__":
    with open("draw_vectors.json", "w") as f:
        json.dump({"draws": [draw_vector(v) for v in DRAWS],
                   "thresholds": [dict(p_min_bps=p, validators=n, exact=str(exact_threshold(p, n)))
                                  for p, n in THRESHOLDS]}, f, indent=2)
        f.write("\n")
    with open("audit_vectors.json", "w") as f:
        json.dump({"trees": [audit_tree_vector(k, jobs) for k, jobs in AUDIT_TREES],
                   "thresholds": [dict(audit_bps=b, threshold=str(min(b * 2**64 // 10000, 2**64 - 1)))
                                  for b in AUDIT_RATES]}, f, indent=2)
        f.write("\n")
    with open("mesh_vectors.json", "w") as f:
        json.dump({"hello": [{**v, "digest": hello_digest(v)} for v in HELLO],
                   "claim": [{**v, "digest": claim_digest(v)} for v in CLAIMS],
                   "cancel": [{**v, "digest": cancel_digest(v)} for v in CANCELS],
                   "read": [{**v, "digest": read_digest(v)} for v in CANCELS]}, f, indent=2)
        f.write("\n")
    with open("possession_vectors.json", "w") as f:
        json.dump([{**v, "digest": possession_digest(v)} for v in POSSESSION], f, indent=2)
        f.write("\n")
    out = []
    for v in VECTORS:
        pre = preimage(v)
        out.append({**v, "preimage": pre.hex(), "digest": hashlib.sha256(pre).hexdigest()})
    with open("attestation_vectors.json", "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
