//! A local single-validator chain of `havnd` (chain/havnd: wasmd's app with Havn's prefix and
//! denom), set up the way an operator sets one up: `havnd init`, genesis accounts and a gentx
//! through `havnd genesis`, then `config.toml` and `app.toml` edited for fast local blocks on
//! free loopback ports. `havn network up --chain havnd` and the tests that compare the devnet
//! with it start it this way; after that, the chain is only a gRPC endpoint like any other.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What `havnd start --home HOME` serves, each on its own loopback port.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Cosmos SDK gRPC: what `havn-chain` speaks.
    pub grpc: String,
    /// CometBFT RPC: what cosmjs, Keplr and explorers speak.
    pub rpc: String,
    /// The SDK's REST (gRPC gateway).
    pub rest: String,
}

/// Runs one `havnd` subcommand against `home`; its stderr's last line is the error.
fn havnd(bin: &Path, home: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(bin)
        .args(args)
        .arg("--home")
        .arg(home)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("havnd {}: {last}", args.join(" ")));
    }
    Ok(())
}

/// Sets `key = value` in `[section]` ("" for the keys before the first header) of a TOML file,
/// keeping its comments: operators read these files.
pub fn set_toml(text: &str, section: &str, key: &str, value: &str) -> Result<String, String> {
    let mut current = String::new();
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let trimmed = line.trim();
            if trimmed.starts_with('[') && trimmed.ends_with(']') {
                current = trimmed.trim_matches(['[', ']']).to_string();
            } else if !done && current == section {
                if let Some((k, _)) = trimmed.split_once('=') {
                    if k.trim() == key {
                        done = true;
                        return format!("{key} = {value}");
                    }
                }
            }
            line.to_string()
        })
        .collect();
    if !done {
        return Err(format!("no {key} in [{section}]"));
    }
    Ok(lines.join("\n") + "\n")
}

fn edit(path: &Path, edits: &[(&str, &str, String)]) -> Result<(), String> {
    let mut text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    for (section, key, value) in edits {
        text =
            set_toml(&text, section, key, value).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Where the fee denom's minimum gas price and the blocks' pace are set.
#[derive(Debug, Clone)]
pub struct Options {
    pub chain_id: String,
    /// e.g. `0.025uhavn`.
    pub min_gas_price: String,
    pub block_time_ms: u64,
}

/// A free loopback port.
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// A chain in `home` whose genesis gives each of `accounts` `coins` (e.g. `1000uhavn`), with one
/// validator bonded by a key of its own. Start it with `havnd start --home HOME`.
pub fn init(
    bin: &Path,
    home: &Path,
    opts: &Options,
    accounts: &[String],
    coins: &str,
) -> Result<Endpoints, String> {
    let (chain_id, block_time_ms) = (opts.chain_id.as_str(), opts.block_time_ms);
    havnd(
        bin,
        home,
        &[
            "init",
            "havn-local",
            "--chain-id",
            chain_id,
            "--default-denom",
            "uhavn",
        ],
    )?;
    for address in accounts {
        havnd(
            bin,
            home,
            &["genesis", "add-genesis-account", address, coins],
        )?;
    }
    // The chain's own validator: a key in the home's test keyring, bonding a tenth of its coins.
    let keyring = ["--keyring-backend", "test"];
    havnd(
        bin,
        home,
        &[&["keys", "add", "chain-validator"][..], &keyring].concat(),
    )?;
    havnd(
        bin,
        home,
        &[
            &[
                "genesis",
                "add-genesis-account",
                "chain-validator",
                "1000000000000uhavn",
            ][..],
            &keyring,
        ]
        .concat(),
    )?;
    havnd(
        bin,
        home,
        &[
            &[
                "genesis",
                "gentx",
                "chain-validator",
                "100000000000uhavn",
                "--chain-id",
                chain_id,
            ][..],
            &keyring,
        ]
        .concat(),
    )?;
    havnd(bin, home, &["genesis", "collect-gentxs"])?;

    let (grpc, rpc, rest, p2p) = (free_port()?, free_port()?, free_port()?, free_port()?);
    let config = home.join("config");
    let quoted = |s: String| format!("\"{s}\"");
    edit(
        &config.join("config.toml"),
        &[
            (
                "consensus",
                "timeout_commit",
                quoted(format!("{block_time_ms}ms")),
            ),
            ("rpc", "laddr", quoted(format!("tcp://127.0.0.1:{rpc}"))),
            ("p2p", "laddr", quoted(format!("tcp://127.0.0.1:{p2p}"))),
        ],
    )?;
    edit(
        &config.join("app.toml"),
        &[
            ("", "minimum-gas-prices", quoted(opts.min_gas_price.clone())),
            ("grpc", "address", quoted(format!("127.0.0.1:{grpc}"))),
            ("api", "enable", "true".into()),
            ("api", "address", quoted(format!("tcp://127.0.0.1:{rest}"))),
        ],
    )?;
    Ok(Endpoints {
        grpc: format!("http://127.0.0.1:{grpc}"),
        rpc: format!("http://127.0.0.1:{rpc}"),
        rest: format!("http://127.0.0.1:{rest}"),
    })
}

/// The chain's data directory (its blocks, state and consensus WAL).
pub fn data_dir(home: &Path) -> PathBuf {
    home.join("data")
}

#[cfg(test)]
mod tests {
    use super::set_toml;

    const TEXT: &str = "# top\nminimum-gas-prices = \"\"\n\n[api]\n# Enable defines…\nenable = false\naddress = \"tcp://localhost:1317\"\n\n[grpc]\naddress = \"localhost:9090\"\n";

    #[test]
    fn set_toml_edits_only_the_key_in_its_section_and_keeps_comments() {
        let t = set_toml(TEXT, "grpc", "address", "\"127.0.0.1:1\"").unwrap();
        assert!(t.contains("[grpc]\naddress = \"127.0.0.1:1\""));
        assert!(t.contains("address = \"tcp://localhost:1317\""), "{t}");
        let t = set_toml(&t, "", "minimum-gas-prices", "\"0.025uhavn\"").unwrap();
        assert!(t.starts_with("# top\nminimum-gas-prices = \"0.025uhavn\""));
        let t = set_toml(&t, "api", "enable", "true").unwrap();
        assert!(t.contains("# Enable defines…\nenable = true"));
        let parsed: toml::Table = t.parse().unwrap();
        assert_eq!(parsed["grpc"]["address"].as_str(), Some("127.0.0.1:1"));
    }

    #[test]
    fn set_toml_refuses_a_key_that_is_not_there() {
        assert_eq!(
            set_toml(TEXT, "api", "nope", "1").unwrap_err(),
            "no nope in [api]"
        );
        assert!(set_toml(TEXT, "missing", "address", "1").is_err());
    }
}
