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

/// The key `m/44'/118'/0'/0/0` of a BIP39 mnemonic (no passphrase), as Keplr, Leap and
/// `wasmd keys add` derive it.
pub fn from_mnemonic(phrase: &str) -> Result<SigningKey, String> {
    from_mnemonic_with_passphrase(phrase, "")
}

/// As [`from_mnemonic`], with a BIP39 passphrase. Every standard length is accepted: 12, 15,
/// 18, 21 or 24 English words (wallets default to 12 or 24), with their checksum.
pub fn from_mnemonic_with_passphrase(phrase: &str, passphrase: &str) -> Result<SigningKey, String> {
    let words = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
    let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &words).map_err(
        |e| match e {
            bip39::Error::BadWordCount(n) => {
                format!("{n} words; a BIP39 mnemonic has 12, 15, 18, 21 or 24")
            }
            bip39::Error::UnknownWord(i) => format!("word {} is not a BIP39 English word", i + 1),
            bip39::Error::InvalidChecksum => "the checksum does not match (a word is wrong)".into(),
            other => other.to_string(),
        },
    )?;
    let seed = mnemonic.to_seed_normalized(passphrase);
    let path: bip32::DerivationPath = "m/44'/118'/0'/0/0"
        .parse()
        .map_err(|e: bip32::Error| e.to_string())?;
    let xprv = bip32::XPrv::derive_from_path(seed, &path).map_err(|e| e.to_string())?;
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

    /// testdata/bip39_vectors.json (gen_bip39_vectors.py, cosmpy's own BIP39 and BIP32): BIP39's
    /// published vectors and one of every length, each to its seed's key at m/44'/118'/0'/0/0.
    #[test]
    fn mnemonics_of_every_standard_length_derive_the_vectors_keys() {
        let vectors: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../testdata/bip39_vectors.json")).unwrap();
        let mut lengths = std::collections::BTreeSet::new();
        for v in &vectors {
            let (phrase, passphrase) = (
                v["mnemonic"].as_str().unwrap(),
                v["passphrase"].as_str().unwrap(),
            );
            let key = from_mnemonic_with_passphrase(phrase, passphrase).unwrap();
            assert_eq!(hex::encode(key.to_bytes()), v["secret"], "{phrase}");
            if passphrase.is_empty() {
                // Spaces as a user pastes them.
                let messy = format!("  {}\n", phrase.replace(' ', "  "));
                assert_eq!(from_mnemonic(&messy).unwrap(), key);
            }
            lengths.insert(v["words"].as_u64().unwrap());
        }
        assert_eq!(
            lengths.into_iter().collect::<Vec<_>>(),
            [12, 15, 18, 21, 24]
        );
    }

    #[test]
    fn bad_mnemonics_say_what_is_wrong() {
        let twelve = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        let e = from_mnemonic(&twelve.replace(" about", "")).unwrap_err();
        assert_eq!(e, "11 words; a BIP39 mnemonic has 12, 15, 18, 21 or 24");
        let e = from_mnemonic(&twelve.replace("about", "abou")).unwrap_err();
        assert_eq!(e, "word 12 is not a BIP39 English word");
        let e = from_mnemonic(&twelve.replace("about", "abandon")).unwrap_err();
        assert_eq!(e, "the checksum does not match (a word is wrong)");
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
