//! Who is staked. The mesh asks an `OperatorSet` whether a node or validator may take part and
//! with what key and stake. Here the set comes from a TOML file an operator maintains; the chain
//! issue adds a source that reads the staking contract, behind the same trait.

use std::collections::BTreeMap;
use std::path::Path;

use thiserror::Error;

/// One staked operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub address: String,
    /// 33-byte compressed secp256k1 key registered for it.
    pub pubkey: Vec<u8>,
    pub node_stake: u128,
    pub validator_stake: u128,
}

impl Operator {
    pub fn is_node(&self) -> bool {
        self.node_stake > 0
    }

    pub fn is_validator(&self) -> bool {
        self.validator_stake > 0
    }
}

/// The staked operators as some source knows them.
pub trait OperatorSet: Send + Sync {
    fn get(&self, address: &str) -> Option<Operator>;
    /// Every operator with validator stake.
    fn validators(&self) -> Vec<Operator>;
    /// The smallest node stake in the set (0 when it has no node): the unit a router counts a
    /// node's slots in, so what one node may hold grows with its stake, not with what it declares.
    fn node_stake_unit(&self) -> u128;
}

#[derive(Debug, Error)]
pub enum OperatorsError {
    #[error("cannot read operators file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("operators file {path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(serde::Deserialize)]
struct File {
    #[serde(default)]
    operators: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    address: String,
    /// Hex, 33 bytes compressed.
    pubkey: String,
    /// Bonded stake in the smallest $HAI unit (TOML integers are 64-bit).
    #[serde(default)]
    node_stake: u64,
    #[serde(default)]
    validator_stake: u64,
}

/// The operator set from a TOML file:
///
/// ```toml
/// [[operators]]
/// address = "wasm1…"
/// pubkey = "02…"        # 33-byte compressed secp256k1 key, hex
/// node_stake = 1000000000
/// validator_stake = 0
/// ```
#[derive(Debug, Clone, Default)]
pub struct FileOperators {
    by_address: BTreeMap<String, Operator>,
    node_stake_unit: u128,
}

impl FileOperators {
    pub fn load(path: &Path) -> Result<Self, OperatorsError> {
        let text = std::fs::read_to_string(path).map_err(|source| OperatorsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| OperatorsError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut by_address = BTreeMap::new();
        for e in file.operators {
            let pubkey = hex::decode(&e.pubkey)
                .ok()
                .filter(|k| k.len() == 33 && k256::PublicKey::from_sec1_bytes(k).is_ok())
                .ok_or_else(|| {
                    format!(
                        "operator {}: pubkey must be a 33-byte compressed secp256k1 key in hex",
                        e.address
                    )
                })?;
            let op = Operator {
                address: e.address.clone(),
                pubkey,
                node_stake: e.node_stake.into(),
                validator_stake: e.validator_stake.into(),
            };
            if by_address.insert(e.address.clone(), op).is_some() {
                return Err(format!("operator {} is listed twice", e.address));
            }
        }
        Ok(Self::indexed(by_address))
    }

    pub fn from_operators(operators: impl IntoIterator<Item = Operator>) -> Self {
        Self::indexed(
            operators
                .into_iter()
                .map(|o| (o.address.clone(), o))
                .collect(),
        )
    }

    /// The same set counting slots in `unit` of stake (a staking contract's `min_stake_node`)
    /// rather than its smallest node stake; 0 keeps the smallest.
    pub fn with_node_stake_unit(mut self, unit: u128) -> Self {
        if unit > 0 {
            self.node_stake_unit = unit;
        }
        self
    }

    fn indexed(by_address: BTreeMap<String, Operator>) -> Self {
        let node_stake_unit = by_address
            .values()
            .map(|o| o.node_stake)
            .filter(|&s| s > 0)
            .min()
            .unwrap_or(0);
        FileOperators {
            by_address,
            node_stake_unit,
        }
    }

    /// How many operators the set holds.
    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    /// The file's text for these operators.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for o in self.by_address.values() {
            out += &format!(
                "[[operators]]\naddress = \"{}\"\npubkey = \"{}\"\nnode_stake = {}\nvalidator_stake = {}\n\n",
                o.address,
                hex::encode(&o.pubkey),
                o.node_stake,
                o.validator_stake
            );
        }
        out
    }
}

impl OperatorSet for FileOperators {
    fn get(&self, address: &str) -> Option<Operator> {
        self.by_address.get(address).cloned()
    }

    fn validators(&self) -> Vec<Operator> {
        self.by_address
            .values()
            .filter(|o| o.is_validator())
            .cloned()
            .collect()
    }

    fn node_stake_unit(&self) -> u128 {
        self.node_stake_unit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_bad_keys_and_duplicates() {
        let key = crate::keys::pubkey(&k256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap());
        let set = FileOperators::from_operators([Operator {
            address: "wasm1node".into(),
            pubkey: key.clone(),
            node_stake: 5,
            validator_stake: 0,
        }]);
        let parsed = FileOperators::parse(&set.to_toml()).unwrap();
        assert_eq!(parsed.get("wasm1node").unwrap().pubkey, key);
        assert!(parsed.validators().is_empty());
        let err =
            FileOperators::parse("[[operators]]\naddress = \"a\"\npubkey = \"02ff\"").unwrap_err();
        assert!(err.contains("33-byte"), "{err}");
        let twice = format!("{}{}", set.to_toml(), set.to_toml());
        assert!(FileOperators::parse(&twice).unwrap_err().contains("twice"));
    }
}
