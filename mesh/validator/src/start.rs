//! Assembling a validator from its config as the daemon runs it: the operator set (from the
//! staking contract when `[chain]` names one, else the operators file), heartbeats, and with an
//! execution log the on-chain challenger and committed seeds, and with a registry its record of
//! each version. `havn-validator` and the tests that run a validator in their own process share
//! it.

use std::sync::Arc;

use havn_mesh_common::operators::{FileOperators, OperatorSet};
use havn_mesh_common::pipeline::Executors;
use k256::ecdsa::SigningKey;

use crate::{seeds::Seeds, Challenger, StartError, Validator, ValidatorConfig};

impl Validator {
    /// The validator `cfg` describes, joined to its chain (heartbeats start here), with
    /// `executors` for re-execution.
    pub async fn start(
        cfg: ValidatorConfig,
        key: SigningKey,
        executors: Executors,
    ) -> Result<Validator, StartError> {
        let from_chain = match &cfg.chain {
            Some(chain) => chain.join_as_operator(&cfg.operator).await?,
            None => None,
        };
        let operators: Arc<dyn OperatorSet> = match from_chain {
            Some(set) => set,
            None => Arc::new(
                FileOperators::load(&cfg.operators_file)
                    .map_err(|e| StartError::Config(e.to_string()))?,
            ),
        };
        let master = Validator::seed_master(&cfg, &key);
        let mut home = None;
        // With an execution log: challenge on chain, and draw with seeds committed there (two
        // connections, so a slow seed transaction never holds up a challenge).
        let on_chain = match cfg.chain.as_ref().filter(|c| !c.execution_log.is_empty()) {
            Some(chain) => {
                let (client, wallet) = chain.connect().await?;
                home = Some((client.chain_id().to_string(), chain.execution_log.clone()));
                let (seed_client, seed_wallet) = chain.connect().await?;
                let log = chain.execution_log.clone();
                Some((
                    Challenger {
                        client,
                        wallet,
                        execution_log: log.clone(),
                    },
                    Seeds::new(seed_client, seed_wallet, log, master),
                ))
            }
            None => None,
        };
        let cfg_chain = cfg.chain.clone();
        let mut validator =
            Validator::new(cfg, key, operators, executors).map_err(StartError::Config)?;
        if let Some((chain_id, log)) = &home {
            validator = validator.for_deployment(chain_id, log);
        }
        if let Some(chain) = cfg_chain.as_ref().filter(|c| !c.registry.is_empty()) {
            let (client, _) = chain.connect().await?;
            validator = validator.with_terms(havn_chain::registry::RecordedArtifacts::new(
                client,
                chain.registry.clone(),
            ));
        }
        Ok(match on_chain {
            Some((challenger, seeds)) => validator.with_challenger(challenger).with_seeds(seeds),
            None => validator,
        })
    }
}
