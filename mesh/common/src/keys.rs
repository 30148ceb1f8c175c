//! Operator keys. A daemon's secp256k1 key comes from a keyfile (64 hex characters, readable by
//! its owner only) or from a BIP39 mnemonic file, derived at `m/44'/118'/0'/0/0` like every Cosmos
//! wallet. Keys are never logged.

use std::path::Path;

use k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "key file {path} is readable by group or others (mode {mode:o}); run: chmod 600 {path}"
    )]
    Permissions { path: String, mode: u32 },
    #[error("key file {path} must hold 64 hex characters (a 32-byte secp256k1 secret)")]
    Format { path: String },
    #[error("mnemonic in {path} is not a valid BIP39 phrase: {reason}")]
    Mnemonic { path: String, reason: String },
    #[error("configure exactly one of key_file and mnemonic_file")]
    NoKey,
}

/// Where a daemon's key comes from (config fields `key_file` / `mnemonic_file`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct KeySource {
    pub key_file: Option<std::path::PathBuf>,
    pub mnemonic_file: Option<std::path::PathBuf>,
}

impl KeySource {
    pub fn load(&self) -> Result<SigningKey, KeyError> {
        match (&self.key_file, &self.mnemonic_file) {
            (Some(path), None) => load_keyfile(path),
            (None, Some(path)) => load_mnemonic(path),
            _ => Err(KeyError::NoKey),
        }
    }
}

fn read_private(path: &Path) -> Result<String, KeyError> {
    let display = path.display().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| KeyError::Read {
            path: display.clone(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: display,
                mode,
            });
        }
    }
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: display,
        source,
    })
}

pub fn load_keyfile(path: &Path) -> Result<SigningKey, KeyError> {
    let text = read_private(path)?;
    let format = || KeyError::Format {
        path: path.display().to_string(),
    };
    let bytes = hex::decode(text.trim()).map_err(|_| format())?;
    SigningKey::from_slice(&bytes).map_err(|_| format())
}

pub fn load_mnemonic(path: &Path) -> Result<SigningKey, KeyError> {
    let text = read_private(path)?;
    from_mnemonic(text.trim()).map_err(|reason| KeyError::Mnemonic {
        path: path.display().to_string(),
        reason,
    })
}

/// The key `m/44'/118'/0'/0/0` of a BIP39 mnemonic (no passphrase).
pub fn from_mnemonic(phrase: &str) -> Result<SigningKey, String> {
    let mnemonic =
        bip32::Mnemonic::new(phrase, bip32::Language::English).map_err(|e| e.to_string())?;
    let seed = mnemonic.to_seed("");
    let path: bip32::DerivationPath = "m/44'/118'/0'/0/0"
        .parse()
        .map_err(|e: bip32::Error| e.to_string())?;
    let xprv = bip32::XPrv::derive_from_path(&seed, &path).map_err(|e| e.to_string())?;
    Ok(xprv.private_key().clone())
}

/// Writes a fresh random key to `path` with mode 0600 (for `--init-key`).
pub fn generate_keyfile(path: &Path) -> Result<SigningKey, KeyError> {
    let mut secret = [0u8; 32];
    loop {
        getrandom_fill(&mut secret);
        if let Ok(key) = SigningKey::from_slice(&secret) {
            write_private(path, &hex::encode(secret)).map_err(|source| KeyError::Read {
                path: path.display().to_string(),
                source,
            })?;
            return Ok(key);
        }
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// Fills `buf` from the OS's randomness.
pub fn getrandom_fill(buf: &mut [u8]) {
    use k256::elliptic_curve::rand_core::{OsRng, RngCore};
    OsRng.fill_bytes(buf);
}

/// The 33-byte compressed public key.
pub fn pubkey(key: &SigningKey) -> Vec<u8> {
    key.verifying_key()
        .to_encoded_point(true)
        .as_bytes()
        .to_vec()
}

/// A 64-byte compact signature over a 32-byte digest (low-S), as contracts verify them.
pub fn sign(key: &SigningKey, digest: &[u8; 32]) -> Vec<u8> {
    let sig: Signature = key
        .sign_prehash(digest)
        .expect("a 32-byte digest always signs");
    sig.to_bytes().to_vec()
}

/// Whether `signature` (64 bytes) by `pubkey` (33 bytes) signs `digest`.
pub fn verify(pubkey: &[u8], digest: &[u8; 32], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_sec1_bytes(pubkey) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify_prehash(digest, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_digest_and_key() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let other = SigningKey::from_slice(&[8u8; 32]).unwrap();
        let sig = sign(&key, &[1u8; 32]);
        assert!(verify(&pubkey(&key), &[1u8; 32], &sig));
        assert!(!verify(&pubkey(&key), &[2u8; 32], &sig));
        assert!(!verify(&pubkey(&other), &[1u8; 32], &sig));
        assert!(!verify(&pubkey(&key), &[1u8; 32], &sig[..63]));
        assert!(!verify(b"not a key", &[1u8; 32], &sig));
    }

    /// CosmJS's faucet vector: this mnemonic at m/44'/118'/0'/0/0 is cosmos1pkptre7f…rs6, whose
    /// public key is `A08EGB7ro1ORuFhjOnZcSgwYlpe0DSFjVNUIkNNQxwKQ` (base64).
    #[test]
    fn mnemonic_derives_the_cosmos_hd_path() {
        let phrase = "economy stock theory fatal elder harbor betray wasp final emotion task crumble siren bottom lizard educate guess current outdoor pair theory focus wife stone";
        let key = from_mnemonic(phrase).unwrap();
        assert_eq!(
            hex::encode(pubkey(&key)),
            "034f04181eeba35391b858633a765c4a0c189697b40d216354d50890d350c70290"
        );
        assert!(from_mnemonic("not a real mnemonic").is_err());
    }

    #[test]
    fn keyfiles_must_be_private_and_well_formed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let key = generate_keyfile(&path).unwrap();
        assert_eq!(load_keyfile(&path).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = load_keyfile(&path).unwrap_err();
            assert!(err.to_string().contains("chmod 600"), "{err}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let bad = dir.path().join("bad.key");
        write_private(&bad, "zz").unwrap();
        assert!(matches!(load_keyfile(&bad), Err(KeyError::Format { .. })));
        assert!(matches!(KeySource::default().load(), Err(KeyError::NoKey)));
    }
}
