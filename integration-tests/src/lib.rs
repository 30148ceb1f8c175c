//! Havn's five contracts and its $HAI deployed and wired together on cw-multi-test, the way
//! `docs/deployment.md` describes, with operators that hold real secp256k1 keys.
//!
//! `SuiteBuilder::new().build()` gives a deployment (cw20 $HAI by default, `.native()` for a bank
//! denom) whose admin and treasury is the governance contract, with five validators and one node
//! bonded. `Suite` has one helper per user action: publish, request, sign, record, claim, bond,
//! propose, vote…

use cosmwasm_std::{coin, coins, to_json_binary, Addr, Binary, Coin, HexBinary, Uint128, WasmMsg};
use cw_multi_test::{App, AppResponse, ContractWrapper, Executor};
use havn_execution_log::msg::{
    EscrowResponse, ExecuteMsg as LogMsg, JobResult, NodeClaim, QueryMsg as LogQuery,
    ReceiveMsg as LogReceive, SignedAttestation,
};
use havn_execution_log::state::Job;
use havn_governance::msg::{
    Action, ExecuteMsg as GovMsg, ProposeMsg, QueryMsg as GovQuery, ReceiveMsg as GovReceive,
    VoteOption,
};
use havn_payout::msg::{EarningsResponse, ExecuteMsg as PayoutExec, QueryMsg as PayoutQuery};
use havn_staking::msg::{ExecuteMsg as StakingMsg, KeyProof, QueryMsg as StakingQuery};
use havn_staking::state::Role;
use havn_types::keys::possession_digest;
use havn_types::mesh::ResultClaim;
use havn_types::{AssetUnchecked, Attestation, Check, Verdict};
use havn_workflow_registry::msg::{
    ExecuteMsg as RegistryMsg, PublishMsg, ReceiveMsg as RegistryReceive,
};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// A re-execution decided at the ladder's second rung.
pub const REEXECUTED: Check = Check::Reexecuted { rung: 1 };

pub use havn_testing::{bytes, key, pubkey, sign, Failure};

pub const DENOM: &str = "uhai";
/// 1 $HAI in its smallest unit.
pub const HAI: u128 = 1_000_000;
/// What every named account starts with.
pub const FUNDS: u128 = 1_000_000 * HAI;
pub const MIN_STAKE: u128 = 1_000 * HAI;
pub const VALIDATORS: usize = 5;
/// Everyone the suite funds (validators are `validator-0`… and come first).
pub const ACCOUNTS: &[&str] = &[
    "node",
    "node-2",
    "caller",
    "creator",
    "upstream-a",
    "upstream-b",
    "lora-artist",
    "relayer",
    "holder",
];

/// The content hash of anything, by a seed.
pub fn hash(seed: &str) -> HexBinary {
    HexBinary::from(Sha256::digest(seed.as_bytes()).as_slice())
}

pub struct SuiteBuilder {
    native: bool,
    node: bool,
    stakes: Vec<u128>,
    staking: havn_staking::state::Params,
    log: havn_execution_log::state::Params,
    payout: havn_payout::state::Params,
    governance: havn_governance::state::Params,
}

impl Default for SuiteBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SuiteBuilder {
    pub fn new() -> Self {
        SuiteBuilder {
            native: false,
            node: true,
            stakes: vec![MIN_STAKE; VALIDATORS],
            staking: havn_staking::state::Params {
                min_stake_node: Uint128::new(MIN_STAKE),
                min_stake_validator: Uint128::new(MIN_STAKE),
                ..Default::default()
            },
            log: Default::default(),
            payout: Default::default(),
            governance: havn_governance::state::Params {
                min_deposit: Uint128::new(100 * HAI),
                ..Default::default()
            },
        }
    }

    /// $HAI as the bank denom `uhai` instead of a cw20 token.
    pub fn native(mut self) -> Self {
        self.native = true;
        self
    }

    /// Bond no node at build time.
    pub fn without_node(mut self) -> Self {
        self.node = false;
        self
    }

    /// One validator per entry, bonded with that stake.
    pub fn validator_stakes(mut self, stakes: &[u128]) -> Self {
        self.stakes = stakes.to_vec();
        self
    }

    pub fn staking_params(mut self, f: impl FnOnce(&mut havn_staking::state::Params)) -> Self {
        f(&mut self.staking);
        self
    }

    pub fn log_params(mut self, f: impl FnOnce(&mut havn_execution_log::state::Params)) -> Self {
        f(&mut self.log);
        self
    }

    pub fn payout_params(mut self, f: impl FnOnce(&mut havn_payout::state::Params)) -> Self {
        f(&mut self.payout);
        self
    }

    pub fn governance_params(
        mut self,
        f: impl FnOnce(&mut havn_governance::state::Params),
    ) -> Self {
        f(&mut self.governance);
        self
    }

    /// Deploys in the documented order: $HAI, registry, staking, payout, execution log,
    /// governance; then the deployer hands every contract's admin (and wasm admin) and treasury
    /// to governance and wires the log into staking and payout.
    pub fn build(self) -> Suite {
        let mut app = App::default();
        let deployer = app.api().addr_make("deployer");
        let names: Vec<String> = (0..self.stakes.len())
            .map(|i| format!("validator-{i}"))
            .chain(ACCOUNTS.iter().map(|s| s.to_string()))
            .collect();
        let funded: Vec<Addr> = names.iter().map(|n| app.api().addr_make(n)).collect();
        let (asset, token) = if self.native {
            app.init_modules(|router, _, storage| {
                for a in &funded {
                    router
                        .bank
                        .init_balance(storage, a, vec![coin(FUNDS, DENOM), coin(FUNDS, "uatom")])
                        .unwrap();
                }
            });
            (AssetUnchecked::Native(DENOM.into()), None)
        } else {
            let balances: Vec<(Addr, u128)> = funded.iter().map(|a| (a.clone(), FUNDS)).collect();
            let token = havn_testing::instantiate_hai(&mut app, &deployer, &balances);
            (AssetUnchecked::Cw20(token.to_string()), Some(token))
        };

        let registry_code = app.store_code(Box::new(
            ContractWrapper::new(
                havn_workflow_registry::contract::execute,
                havn_workflow_registry::contract::instantiate,
                havn_workflow_registry::contract::query,
            )
            .with_migrate(havn_workflow_registry::contract::migrate),
        ));
        let staking_code = app.store_code(Box::new(
            ContractWrapper::new(
                havn_staking::contract::execute,
                havn_staking::contract::instantiate,
                havn_staking::contract::query,
            )
            .with_migrate(havn_staking::contract::migrate),
        ));
        let payout_code = app.store_code(Box::new(
            ContractWrapper::new(
                havn_payout::contract::execute,
                havn_payout::contract::instantiate,
                havn_payout::contract::query,
            )
            .with_migrate(havn_payout::contract::migrate),
        ));
        let log_code = app.store_code(Box::new(
            ContractWrapper::new(
                havn_execution_log::contract::execute,
                havn_execution_log::contract::instantiate,
                havn_execution_log::contract::query,
            )
            .with_migrate(havn_execution_log::contract::migrate),
        ));
        let governance_code = app.store_code(Box::new(
            ContractWrapper::new(
                havn_governance::contract::execute,
                havn_governance::contract::instantiate,
                havn_governance::contract::query,
            )
            .with_reply(havn_governance::contract::reply)
            .with_migrate(havn_governance::contract::migrate),
        ));

        let mut instantiate = |code: u64, msg: &dyn ErasedMsg, label: &str| {
            app.instantiate_contract(
                code,
                deployer.clone(),
                &msg.to_json(),
                &[],
                label,
                Some(deployer.to_string()),
            )
            .unwrap()
        };
        let registry = instantiate(
            registry_code,
            &havn_workflow_registry::msg::InstantiateMsg {
                admin: deployer.to_string(),
                asset: asset.clone(),
                treasury: deployer.to_string(),
                params: None,
            },
            "havn-workflow-registry",
        );
        let staking = instantiate(
            staking_code,
            &havn_staking::msg::InstantiateMsg {
                admin: deployer.to_string(),
                asset: asset.clone(),
                treasury: deployer.to_string(),
                execution_log: None,
                params: Some(self.staking),
            },
            "havn-staking",
        );
        let payout = instantiate(
            payout_code,
            &havn_payout::msg::InstantiateMsg {
                admin: deployer.to_string(),
                asset: asset.clone(),
                execution_log: None,
                treasury: deployer.to_string(),
                params: Some(self.payout),
            },
            "havn-payout",
        );
        let log = instantiate(
            log_code,
            &havn_execution_log::msg::InstantiateMsg {
                admin: deployer.to_string(),
                asset: asset.clone(),
                registry: registry.to_string(),
                staking: staking.to_string(),
                payout: payout.to_string(),
                params: Some(self.log),
            },
            "havn-execution-log",
        );
        let governance = instantiate(
            governance_code,
            &havn_governance::msg::InstantiateMsg {
                asset,
                staking: staking.to_string(),
                registry: registry.to_string(),
                execution_log: log.to_string(),
                payout: payout.to_string(),
                params: Some(self.governance),
            },
            "havn-governance",
        );

        // Hand everything to governance.
        let gov = Some(governance.to_string());
        let wiring: Vec<(&Addr, Binary)> = vec![
            (
                &registry,
                to_json_binary(&RegistryMsg::UpdateConfig {
                    admin: gov.clone(),
                    treasury: gov.clone(),
                })
                .unwrap(),
            ),
            (
                &staking,
                to_json_binary(&StakingMsg::UpdateConfig {
                    admin: gov.clone(),
                    treasury: gov.clone(),
                    execution_log: Some(log.to_string()),
                })
                .unwrap(),
            ),
            (
                &payout,
                to_json_binary(&PayoutExec::UpdateConfig {
                    admin: gov.clone(),
                    execution_log: Some(log.to_string()),
                    treasury: gov.clone(),
                })
                .unwrap(),
            ),
            (
                &log,
                to_json_binary(&LogMsg::UpdateConfig {
                    admin: gov.clone(),
                    payout: None,
                })
                .unwrap(),
            ),
        ];
        for (contract, msg) in wiring {
            app.execute(
                deployer.clone(),
                WasmMsg::Execute {
                    contract_addr: contract.to_string(),
                    msg,
                    funds: vec![],
                }
                .into(),
            )
            .unwrap();
        }
        for contract in [&registry, &staking, &payout, &log, &governance] {
            app.execute(
                deployer.clone(),
                WasmMsg::UpdateAdmin {
                    contract_addr: contract.to_string(),
                    admin: governance.to_string(),
                }
                .into(),
            )
            .unwrap();
        }

        let mut suite = Suite {
            app,
            token,
            registry,
            staking,
            payout,
            log,
            governance,
            validators: self.stakes.len(),
            codes: Codes {
                registry: registry_code,
                staking: staking_code,
                payout: payout_code,
                log: log_code,
                governance: governance_code,
            },
        };
        for (i, stake) in self.stakes.iter().enumerate() {
            suite
                .bond(&format!("validator-{i}"), Role::Validator, *stake)
                .unwrap();
        }
        if self.node {
            suite.bond("node", Role::Node, MIN_STAKE).unwrap();
        }
        suite.advance(5);
        suite
    }
}

/// Lets the builder instantiate five message types through one closure.
trait ErasedMsg {
    fn to_json(&self) -> serde_json::Value;
}

impl<T: serde::Serialize> ErasedMsg for T {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap()
    }
}

pub struct Codes {
    pub registry: u64,
    pub staking: u64,
    pub payout: u64,
    pub log: u64,
    pub governance: u64,
}

pub struct Suite {
    pub app: App,
    /// The cw20 $HAI, or `None` when $HAI is the bank denom `uhai`.
    pub token: Option<Addr>,
    pub registry: Addr,
    pub staking: Addr,
    pub payout: Addr,
    pub log: Addr,
    pub governance: Addr,
    pub validators: usize,
    pub codes: Codes,
}

impl Suite {
    pub fn addr(&self, name: &str) -> Addr {
        self.app.api().addr_make(name)
    }

    pub fn validator(&self, i: usize) -> Addr {
        self.addr(&format!("validator-{i}"))
    }

    pub fn advance(&mut self, seconds: u64) {
        self.app.update_block(|b| {
            b.time = b.time.plus_seconds(seconds);
            b.height += 1;
        });
    }

    pub fn chain_id(&self) -> String {
        self.app.block_info().chain_id
    }

    pub fn execute(
        &mut self,
        sender: &str,
        contract: &Addr,
        msg: &(impl serde::Serialize + std::fmt::Debug),
        funds: &[Coin],
    ) -> Result<AppResponse, Failure> {
        let sender = self.addr(sender);
        self.app
            .execute_contract(sender, contract.clone(), msg, funds)
            .map_err(Failure)
    }

    /// `sender` pays `amount` of $HAI to `contract` with `msg`: native funds on `native_msg`, or
    /// the cw20 token's `Send` carrying `cw20_msg`.
    pub fn pay(
        &mut self,
        sender: &str,
        contract: &Addr,
        amount: u128,
        native_msg: &(impl serde::Serialize + std::fmt::Debug),
        cw20_msg: &(impl serde::Serialize + std::fmt::Debug),
    ) -> Result<AppResponse, Failure> {
        match self.token.clone() {
            Some(token) => {
                let send = cw20::Cw20ExecuteMsg::Send {
                    contract: contract.to_string(),
                    amount: Uint128::new(amount),
                    msg: to_json_binary(cw20_msg).unwrap(),
                };
                self.execute(sender, &token, &send, &[])
            }
            None => self.execute(sender, contract, native_msg, &coins(amount, DENOM)),
        }
    }

    /// $HAI held by an address.
    pub fn balance(&self, who: &Addr) -> u128 {
        havn_testing::hai_balance(&self.app, self.token.as_ref(), DENOM, who)
    }

    pub fn balance_of(&self, name: &str) -> u128 {
        self.balance(&self.addr(name))
    }

    /// A plain transfer (cw20 `Transfer` or bank send) from a named account.
    pub fn transfer(&mut self, from: &str, to: &Addr, amount: u128) {
        let sender = self.addr(from);
        let msg: cosmwasm_std::CosmosMsg = match &self.token {
            Some(token) => WasmMsg::Execute {
                contract_addr: token.to_string(),
                msg: to_json_binary(&cw20::Cw20ExecuteMsg::Transfer {
                    recipient: to.to_string(),
                    amount: Uint128::new(amount),
                })
                .unwrap(),
                funds: vec![],
            }
            .into(),
            None => cosmwasm_std::BankMsg::Send {
                to_address: to.to_string(),
                amount: coins(amount, DENOM),
            }
            .into(),
        };
        self.app.execute(sender, msg).unwrap();
    }

    /// Total $HAI in existence.
    pub fn supply(&self) -> u128 {
        match &self.token {
            Some(token) => {
                let info: cw20::TokenInfoResponse = self
                    .app
                    .wrap()
                    .query_wasm_smart(token, &cw20::Cw20QueryMsg::TokenInfo {})
                    .unwrap();
                info.total_supply.u128()
            }
            None => self.app.wrap().query_supply(DENOM).unwrap().amount.u128(),
        }
    }

    pub fn query<T: DeserializeOwned>(&self, contract: &Addr, msg: &impl serde::Serialize) -> T {
        self.app.wrap().query_wasm_smart(contract, msg).unwrap()
    }

    // ---- staking ----

    /// Bonds `amount` for `role` with this name's key (proving possession on the first bond).
    pub fn bond(&mut self, name: &str, role: Role, amount: u128) -> Result<AppResponse, Failure> {
        let who = self.addr(name);
        let registered = self
            .app
            .wrap()
            .query_wasm_smart::<serde::de::IgnoredAny>(
                &self.staking,
                &StakingQuery::Operator {
                    address: who.to_string(),
                },
            )
            .is_ok();
        let key_proof = (!registered).then(|| {
            let digest = possession_digest(&self.chain_id(), self.staking.as_str(), who.as_str());
            KeyProof {
                pubkey: pubkey(&key(name)),
                signature: bytes(&sign(&key(name), &digest)),
            }
        });
        let staking = self.staking.clone();
        self.pay(
            name,
            &staking,
            amount,
            &StakingMsg::Bond {
                role,
                key: key_proof.clone(),
            },
            &havn_staking::msg::ReceiveMsg::Bond {
                role,
                key: key_proof,
            },
        )
    }

    pub fn operator(&self, name: &str) -> havn_staking::msg::OperatorResponse {
        self.query(
            &self.staking,
            &StakingQuery::Operator {
                address: self.addr(name).to_string(),
            },
        )
    }

    pub fn staking_totals(&self) -> havn_staking::msg::TotalsResponse {
        self.query(&self.staking, &StakingQuery::Totals {})
    }

    // ---- registry ----

    /// Publishes (paying the deposit, if any) and returns the new workflow id.
    pub fn publish(&mut self, creator: &str, msg: PublishMsg) -> Result<u64, Failure> {
        let deposit: havn_workflow_registry::state::Params = self.query(
            &self.registry,
            &havn_workflow_registry::msg::QueryMsg::Params {},
        );
        let registry = self.registry.clone();
        let res = match deposit.publish_deposit.u128() {
            0 => self.execute(creator, &registry, &RegistryMsg::Publish(msg), &[])?,
            amount => self.pay(
                creator,
                &registry,
                amount,
                &RegistryMsg::Publish(msg.clone()),
                &RegistryReceive::Publish(msg),
            )?,
        };
        Ok(id_attribute(&res, "workflow_id"))
    }

    // ---- execution log ----

    /// `caller` requests a run of `workflow_id`, paying `fee`; returns the job id.
    pub fn request(
        &mut self,
        caller: &str,
        workflow_id: u64,
        fee: u128,
        input: &str,
    ) -> Result<u64, Failure> {
        let log = self.log.clone();
        let res = self.pay(
            caller,
            &log,
            fee,
            &LogMsg::RequestJob {
                workflow_id,
                input_hash: hash(input),
            },
            &LogReceive::RequestJob {
                workflow_id,
                input_hash: hash(input),
            },
        )?;
        Ok(id_attribute(&res, "job_id"))
    }

    pub fn job(&self, id: u64) -> Job {
        self.query(&self.log, &LogQuery::Job { id })
    }

    pub fn escrowed(&self) -> u128 {
        self.query::<EscrowResponse>(&self.log, &LogQuery::Escrow {})
            .escrowed
            .u128()
    }

    /// The bytes every validator signs for this result of `job_id`.
    pub fn attestation_digest(
        &self,
        job_id: u64,
        node: &Addr,
        output: &HexBinary,
        (verdict, check): (Verdict, Check),
    ) -> [u8; 32] {
        let job = self.job(job_id);
        Attestation {
            chain_id: &self.chain_id(),
            execution_log: self.log.as_str(),
            job_id,
            workflow_id: job.workflow_id,
            version_hash: &job.version_hash.to_array().unwrap(),
            node: node.as_str(),
            input_hash: &job.input_hash.to_array().unwrap(),
            output_hash: &output.to_array().unwrap(),
            verdict,
            check,
        }
        .digest()
        .0
    }

    /// `node`'s signed claim for this output of `job_id`.
    pub fn node_claim(&self, node: &str, job_id: u64, output: &HexBinary) -> NodeClaim {
        let digest = ResultClaim {
            job_id,
            attempt: 1,
            output_hash: &output.to_array().unwrap(),
            executor: "builtin:digest",
            device: "cpu",
        }
        .digest();
        NodeClaim {
            attempt: 1,
            executor: "builtin:digest".into(),
            device: "cpu".into(),
            signature: bytes(&sign(&key(node), &digest)),
        }
    }

    /// The result `node` reports (and signs) for `job_id`, with each listed validator's vote.
    pub fn result_votes(
        &self,
        job_id: u64,
        node: &str,
        output: &str,
        votes: &[(usize, Verdict, Check)],
    ) -> JobResult {
        let node_addr = self.addr(node);
        let output = hash(output);
        let attestations = votes
            .iter()
            .map(|&(i, verdict, check)| {
                let digest = self.attestation_digest(job_id, &node_addr, &output, (verdict, check));
                SignedAttestation {
                    validator: self.validator(i).to_string(),
                    verdict,
                    check,
                    signature: bytes(&sign(&key(&format!("validator-{i}")), &digest)),
                }
            })
            .collect();
        JobResult {
            job_id,
            node: node_addr.to_string(),
            claim: self.node_claim(node, job_id, &output),
            output_hash: output,
            attestations,
        }
    }

    /// The result `node` reports for `job_id`, signed by the validators listed (by index): Valid
    /// after the structural checks, Invalid after re-executing.
    pub fn result(
        &self,
        job_id: u64,
        node: &str,
        output: &str,
        verdict: Verdict,
        signers: &[usize],
    ) -> JobResult {
        let check = match verdict {
            Verdict::Valid => Check::Structural,
            Verdict::Invalid => REEXECUTED,
        };
        let votes: Vec<_> = signers.iter().map(|&i| (i, verdict, check)).collect();
        self.result_votes(job_id, node, output, &votes)
    }

    /// The relayer records a batch.
    pub fn record(&mut self, results: Vec<JobResult>) -> Result<AppResponse, Failure> {
        let log = self.log.clone();
        self.execute("relayer", &log, &LogMsg::RecordExecution { results }, &[])
    }

    /// `sender` challenges a result (its one attestation is a signed Invalid).
    pub fn challenge(&mut self, sender: &str, result: JobResult) -> Result<AppResponse, Failure> {
        let log = self.log.clone();
        self.execute(sender, &log, &LogMsg::Challenge { result }, &[])
    }

    /// Anyone finalizes these jobs.
    pub fn finalize(&mut self, job_ids: &[u64]) -> Result<AppResponse, Failure> {
        let log = self.log.clone();
        let msg = LogMsg::Finalize {
            job_ids: job_ids.to_vec(),
        };
        self.execute("anyone", &log, &msg, &[])
    }

    /// Blocks pass (a second each).
    pub fn advance_blocks(&mut self, blocks: u64) {
        self.app.update_block(|b| {
            b.time = b.time.plus_seconds(blocks);
            b.height += blocks;
        });
    }

    /// The execution log's challenge window passes.
    pub fn pass_window(&mut self) {
        let params: havn_execution_log::state::Params = self.query(&self.log, &LogQuery::Params {});
        self.advance_blocks(params.challenge_window);
    }

    /// Records, waits out the challenge window and finalizes: a result nobody disputes, paid.
    /// Returns the record's response (its `havn_job` events).
    pub fn settle(&mut self, results: Vec<JobResult>) -> Result<AppResponse, Failure> {
        let ids: Vec<u64> = results.iter().map(|r| r.job_id).collect();
        let res = self.record(results)?;
        self.pass_window();
        self.finalize(&ids)?;
        Ok(res)
    }

    // ---- payout ----

    pub fn earnings(&self, who: &Addr) -> EarningsResponse {
        self.query(
            &self.payout,
            &PayoutQuery::Earnings {
                address: who.to_string(),
            },
        )
    }

    pub fn payout_totals(&self) -> havn_payout::msg::TotalsResponse {
        self.query(&self.payout, &PayoutQuery::Totals {})
    }

    pub fn claim(&mut self, name: &str) -> Result<AppResponse, Failure> {
        let payout = self.payout.clone();
        self.execute(name, &payout, &PayoutExec::Claim {}, &[])
    }

    // ---- governance ----

    /// `proposer` opens a proposal with these actions and the minimum deposit; returns its id.
    pub fn propose(&mut self, proposer: &str, actions: Vec<Action>) -> Result<u64, Failure> {
        let params: havn_governance::state::Params =
            self.query(&self.governance, &GovQuery::Params {});
        self.propose_with_deposit(proposer, actions, params.min_deposit.u128())
    }

    pub fn propose_with_deposit(
        &mut self,
        proposer: &str,
        actions: Vec<Action>,
        deposit: u128,
    ) -> Result<u64, Failure> {
        let msg = ProposeMsg {
            title: "Change the rules".into(),
            description: "Because the network voted for it.".into(),
            actions,
        };
        let governance = self.governance.clone();
        let res = self.pay(
            proposer,
            &governance,
            deposit,
            &GovMsg::Propose(msg.clone()),
            &GovReceive::Propose(msg),
        )?;
        Ok(id_attribute(&res, "proposal_id"))
    }

    pub fn vote(
        &mut self,
        voter: &str,
        proposal_id: u64,
        option: VoteOption,
    ) -> Result<AppResponse, Failure> {
        let governance = self.governance.clone();
        self.execute(
            voter,
            &governance,
            &GovMsg::Vote {
                proposal_id,
                option,
            },
            &[],
        )
    }

    /// Every validator votes `option`.
    pub fn all_validators_vote(&mut self, proposal_id: u64, option: VoteOption) {
        for i in 0..self.validators {
            self.vote(&format!("validator-{i}"), proposal_id, option)
                .unwrap();
        }
    }

    pub fn proposal(&self, id: u64) -> havn_governance::msg::ProposalResponse {
        self.query(&self.governance, &GovQuery::Proposal { id })
    }

    /// The voting period and then the timelock pass: a passed proposal may run.
    pub fn end_voting(&mut self) {
        let params: havn_governance::state::Params =
            self.query(&self.governance, &GovQuery::Params {});
        self.advance(params.voting_period + params.execution_delay);
    }

    pub fn execute_proposal(&mut self, proposal_id: u64) -> Result<AppResponse, Failure> {
        let governance = self.governance.clone();
        self.execute(
            "relayer",
            &governance,
            &GovMsg::Execute { proposal_id },
            &[],
        )
    }

    pub fn close_proposal(&mut self, proposal_id: u64) -> Result<AppResponse, Failure> {
        let governance = self.governance.clone();
        self.execute("relayer", &governance, &GovMsg::Close { proposal_id }, &[])
    }

    /// Proposes, has every validator vote yes, ends voting and executes.
    /// The proposal action that sets the registry's derivative rules (an `ExecuteContract`).
    pub fn derivative_rules_action(
        &self,
        rules: havn_workflow_registry::state::DerivativeRules,
    ) -> Action {
        Action::ExecuteContract {
            contract: self.registry.to_string(),
            msg: to_json_binary(&RegistryMsg::UpdateDerivativeRules(rules)).unwrap(),
        }
    }

    /// Governance votes `rules` in; returns the proposal id.
    pub fn set_derivative_rules(
        &mut self,
        rules: havn_workflow_registry::state::DerivativeRules,
    ) -> Result<u64, Failure> {
        let action = self.derivative_rules_action(rules);
        self.pass(vec![action])
    }

    pub fn pass(&mut self, actions: Vec<Action>) -> Result<u64, Failure> {
        let id = self.propose("holder", actions)?;
        self.all_validators_vote(id, VoteOption::Yes);
        self.end_voting();
        self.execute_proposal(id)?;
        Ok(id)
    }
}

/// A numeric event attribute of a response: the contracts report every new id as one (a cw20
/// `Send` wraps the call, so the response's data is the token's, not the contract's).
fn id_attribute(res: &AppResponse, key: &str) -> u64 {
    res.events
        .iter()
        .flat_map(|e| &e.attributes)
        .find(|a| a.key == key)
        .and_then(|a| a.value.parse().ok())
        .unwrap_or_else(|| panic!("no {key} attribute in the response"))
}

/// A workflow with no dependencies.
pub fn simple_workflow(name: &str, price: u128) -> PublishMsg {
    PublishMsg {
        name: name.into(),
        content_hash: hash(name).to_hex(),
        price: Uint128::new(price),
        split: None,
        dependencies: vec![],
        parent: None,
        artifacts: vec![],
        metadata: None,
        fingerprint: Some(havn_types::fingerprint::placeholder(&hash(name).to_hex())),
    }
}

/// (job id, outcome) of every `havn_job` event in a response.
pub fn outcomes(res: &AppResponse) -> Vec<(u64, String)> {
    havn_testing::job_outcomes(res)
        .into_iter()
        .map(|(id, outcome, _)| (id, outcome))
        .collect()
}
