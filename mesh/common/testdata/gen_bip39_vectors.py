#!/usr/bin/env python3
"""Writes bip39_vectors.json: BIP39 mnemonics of every length (12, 15, 18, 21, 24 words) -> seed
-> the Cosmos key at m/44'/118'/0'/0/0 and its address, computed by cosmpy's own BIP39/BIP32 code
(independently of ours). Run with the venv of `make py`:
    ~/.cache/havn/cosmpy/*/bin/python mesh/common/testdata/gen_bip39_vectors.py
The first four are BIP39's published vectors (trezor/python-mnemonic vectors.json: those entropies,
passphrase "TREZOR"); the rest use fixed entropies of each remaining length and no passphrase,
as `havn keys recover` and Keplr derive."""
import hashlib
import json
import os

from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from cosmpy.mnemonic import (
    derive_child_key_from_mnemonic,
    derive_seed_from_mnemonic,
    entropy_to_mnemonic,
)

PUBLISHED = [  # entropy, passphrase: the first vectors of each published length
    ("00000000000000000000000000000000", "TREZOR"),
    ("7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f", "TREZOR"),
    ("000000000000000000000000000000000000000000000000", "TREZOR"),
    ("0000000000000000000000000000000000000000000000000000000000000000", "TREZOR"),
]
OURS = [(hashlib.sha256(f"havn/bip39/{n}".encode()).hexdigest()[: n * 2], "") for n in (16, 20, 24, 28, 32)]


def vector(entropy_hex: str, passphrase: str) -> dict:
    mnemonic = entropy_to_mnemonic(bytes.fromhex(entropy_hex))
    key = derive_child_key_from_mnemonic(mnemonic, passphrase=passphrase)
    return {
        "entropy": entropy_hex,
        "mnemonic": mnemonic,
        "words": len(mnemonic.split()),
        "passphrase": passphrase,
        "seed": derive_seed_from_mnemonic(mnemonic, passphrase).hex(),
        "secret": key.hex(),
        "address": str(LocalWallet(PrivateKey(key), prefix="cosmos").address()),
    }


out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bip39_vectors.json")
with open(out, "w") as f:
    json.dump([vector(e, p) for e, p in PUBLISHED + OURS], f, indent=1)
    f.write("\n")
print(out)
