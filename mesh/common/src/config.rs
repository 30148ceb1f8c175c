//! Config files are TOML; any key can be overridden by an environment variable named
//! `<PREFIX>_<KEY>` in upper case, with `__` between nested keys (`HAVN_ROUTER_LISTEN`,
//! `HAVN_NODE_EXECUTOR__THREADS`). Values from the environment are read as TOML scalars
//! (numbers, booleans) when they parse as such, else as strings.

use std::path::Path;

use serde::de::DeserializeOwned;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: String, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// An example config with its commented-out `[section]` switched on (every `# ` line from
/// `# [section]` on), parsed: how `mesh/deploy/*.example.toml`'s optional sections are tested.
pub fn parse_with_section<T: DeserializeOwned>(
    text: &str,
    section: &str,
) -> Result<T, ConfigError> {
    let header = format!("# [{section}]");
    let mut on = false;
    let live: Vec<&str> = text
        .lines()
        .map(|l| {
            on |= l == header;
            match l.strip_prefix("# ") {
                Some(live) if on => live,
                _ => l,
            }
        })
        .collect();
    toml::from_str(&live.join("\n")).map_err(|e| ConfigError::Invalid(e.message().to_string()))
}

/// Reads `path` (if given), applies `<prefix>_*` environment overrides, and deserializes.
pub fn load<T: DeserializeOwned>(path: Option<&Path>, prefix: &str) -> Result<T, ConfigError> {
    let mut table = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            text.parse::<toml::Table>()
                .map_err(|e| ConfigError::Parse {
                    path: path.display().to_string(),
                    message: e.message().to_string(),
                })?
        }
        None => toml::Table::new(),
    };
    apply_env(&mut table, prefix, std::env::vars());
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))
}

fn apply_env(table: &mut toml::Table, prefix: &str, vars: impl Iterator<Item = (String, String)>) {
    let prefix = format!("{}_", prefix.to_ascii_uppercase());
    for (name, value) in vars {
        let Some(key) = name.strip_prefix(&prefix) else {
            continue;
        };
        let path: Vec<String> = key.split("__").map(|k| k.to_ascii_lowercase()).collect();
        let mut at = &mut *table;
        for part in &path[..path.len() - 1] {
            let entry = at
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            at = entry.as_table_mut().expect("just made a table");
        }
        at.insert(path[path.len() - 1].clone(), scalar(&value));
    }
}

fn scalar(value: &str) -> toml::Value {
    // `x = <value>` parses numbers and booleans; anything else stays a string.
    format!("x = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("x"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Cfg {
        listen: String,
        slots: u32,
        nested: Nested,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Nested {
        on: bool,
    }

    #[test]
    fn env_overrides_file_values_with_types() {
        let mut table: toml::Table = "listen = \"a\"\nslots = 1\n[nested]\non = false"
            .parse()
            .unwrap();
        let vars = [
            ("HAVN_X_SLOTS", "4"),
            ("HAVN_X_NESTED__ON", "true"),
            ("HAVN_X_LISTEN", "127.0.0.1:1"),
            ("OTHER_SLOTS", "9"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        apply_env(&mut table, "havn_x", vars.into_iter());
        let cfg: Cfg = toml::Value::Table(table).try_into().unwrap();
        assert_eq!(
            cfg,
            Cfg {
                listen: "127.0.0.1:1".into(),
                slots: 4,
                nested: Nested { on: true }
            }
        );
    }

    #[test]
    fn bad_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "listen = ").unwrap();
        let err = load::<toml::Table>(Some(&path), "HAVN_T").unwrap_err();
        assert!(err.to_string().contains("bad.toml"), "{err}");
        let err =
            load::<toml::Table>(Some(&dir.path().join("missing.toml")), "HAVN_T").unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read config file"),
            "{err}"
        );
    }
}
