use cosmrs::crypto::secp256k1::SigningKey;
use cosmrs::AccountId;

use crate::ChainError;

/// A secp256k1 key and its account address. The key never leaves this struct, and `Debug`
/// prints only the address.
pub struct Wallet {
    key: SigningKey,
    /// The same key, for signing 32-byte digests (the mesh's cancel and read requests).
    raw: k256::ecdsa::SigningKey,
    address: AccountId,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("address", &self.address.to_string())
            .finish()
    }
}

impl Wallet {
    /// The key a BIP39 mnemonic gives at `m/44'/118'/0'/0/0` (no passphrase), as `wasmd keys add
    /// --recover` derives it (the derivation the operators' daemons use too).
    pub fn from_mnemonic(phrase: &str, prefix: &str) -> Result<Self, ChainError> {
        let key = havn_mesh_common::keys::from_mnemonic(phrase).map_err(|reason| {
            ChainError::Key(format!("not a valid BIP39 English mnemonic: {reason}"))
        })?;
        Self::from_secret(&key.to_bytes(), prefix)
    }

    /// A key from its 32 secret bytes.
    pub fn from_secret(secret: &[u8], prefix: &str) -> Result<Self, ChainError> {
        let key = SigningKey::from_slice(secret).map_err(|e| ChainError::Key(e.to_string()))?;
        let raw = k256::ecdsa::SigningKey::from_slice(secret)
            .map_err(|e| ChainError::Key(e.to_string()))?;
        let address = key
            .public_key()
            .account_id(prefix)
            .map_err(|e| ChainError::Key(format!("bech32 prefix {prefix:?}: {e}")))?;
        Ok(Wallet { key, raw, address })
    }

    pub fn address(&self) -> &AccountId {
        &self.address
    }

    pub(crate) fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The 33-byte compressed public key.
    pub fn pubkey(&self) -> Vec<u8> {
        self.raw.verifying_key().to_sec1_bytes().to_vec()
    }

    /// A 64-byte signature over a 32-byte digest (the mesh's cancel and read requests).
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, ChainError> {
        crate::havn::sign_digest(&self.raw, digest).map(|b| b.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cosmjs's faucet vector (cosmos/cosmjs `packages/cli/examples/local_faucet.ts`): this
    /// mnemonic at `m/44'/118'/0'/0/0` is `cosmos1pkptre7fdkl6gfrzlesjjvhxhlc3r4gmmk8rs6`, as
    /// `wasmd keys add --recover` derives it too.
    #[test]
    fn a_mnemonic_gives_the_address_every_cosmos_wallet_gives() {
        let phrase = "economy stock theory fatal elder harbor betray wasp final emotion task crumble \
                      siren bottom lizard educate guess current outdoor pair theory focus wife stone";
        let w = Wallet::from_mnemonic(phrase, "cosmos").unwrap();
        assert_eq!(
            w.address().to_string(),
            "cosmos1pkptre7fdkl6gfrzlesjjvhxhlc3r4gmmk8rs6"
        );
        // Same key, another chain's prefix.
        assert!(Wallet::from_mnemonic(phrase, "havn")
            .unwrap()
            .address()
            .to_string()
            .starts_with("havn1"));
    }

    /// Mnemonics of every standard length (12 is Keplr's and Leap's default) give the addresses
    /// cosmpy derives (mesh/common/testdata/bip39_vectors.json).
    #[test]
    fn mnemonics_of_every_length_give_the_addresses_other_wallets_give() {
        let vectors: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../common/testdata/bip39_vectors.json")).unwrap();
        let ours = vectors.iter().filter(|v| v["passphrase"] == "");
        let mut lengths = vec![];
        for v in ours {
            let w = Wallet::from_mnemonic(v["mnemonic"].as_str().unwrap(), "cosmos").unwrap();
            assert_eq!(w.address().to_string(), v["address"], "{}", v["mnemonic"]);
            lengths.push(v["words"].as_u64().unwrap());
        }
        assert_eq!(lengths, [12, 15, 18, 21, 24]);
    }

    #[test]
    fn bad_mnemonics_are_clear_errors_and_debug_hides_the_key() {
        let e = Wallet::from_mnemonic("economy stock theory", "havn").unwrap_err();
        assert!(
            e.to_string()
                .contains("not a valid BIP39 English mnemonic: 3 words; a BIP39 mnemonic has 12"),
            "{e}"
        );
        let w = Wallet::from_secret(&[7; 32], "havn").unwrap();
        let shown = format!("{w:?}");
        assert!(
            shown.starts_with("Wallet { address: \"havn1") && !shown.contains("key"),
            "{shown}"
        );
    }
}

/// The account address a compressed secp256k1 public key has under `prefix` (what the chain
/// derives: bech32 of ripemd160(sha256(key))).
pub fn address_of(pubkey: &[u8], prefix: &str) -> Result<AccountId, ChainError> {
    let key = cosmrs::tendermint::PublicKey::from_raw_secp256k1(pubkey)
        .ok_or_else(|| ChainError::Key("not a compressed secp256k1 public key".into()))?;
    cosmrs::crypto::PublicKey::from(key)
        .account_id(prefix)
        .map_err(|e| ChainError::Key(format!("bech32 prefix {prefix:?}: {e}")))
}

/// Whether `address` (bech32, any prefix) is `pubkey`'s account.
pub fn is_address_of(address: &str, pubkey: &[u8]) -> bool {
    let Ok(account) = address.parse::<AccountId>() else {
        return false;
    };
    address_of(pubkey, account.prefix()).is_ok_and(|a| a == account)
}

#[cfg(test)]
mod address_tests {
    use super::*;

    #[test]
    fn a_wallets_public_key_gives_its_address() {
        let w = Wallet::from_secret(&[7u8; 32], "havn").unwrap();
        let pubkey = w.key.public_key().to_bytes();
        assert_eq!(&address_of(&pubkey, "havn").unwrap(), w.address());
        assert!(address_of(&[2u8; 5], "havn").is_err());
        assert!(is_address_of(w.address().as_ref(), &pubkey));
        let other = Wallet::from_secret(&[8u8; 32], "havn").unwrap();
        assert!(!is_address_of(other.address().as_ref(), &pubkey));
        assert!(!is_address_of("not an address", &pubkey));
    }
}
