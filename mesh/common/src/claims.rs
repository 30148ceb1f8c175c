//! Checking a node's result: the output against its hash, and the node's signature over its
//! result claim. The router checks before fanning a result out; every validator checks again.

use havn_mesh_proto::v1::JobOutput;
use havn_types::mesh::ResultClaim;

use crate::operators::OperatorSet;

/// Checks `output` for `job_id` claimed by `node`; returns the output hash, or why it is refused.
pub fn check(
    operators: &dyn OperatorSet,
    node: &str,
    job_id: u64,
    output: &JobOutput,
) -> Result<[u8; 32], &'static str> {
    let hash: [u8; 32] = output
        .output_hash
        .as_slice()
        .try_into()
        .map_err(|_| "output_hash is not 32 bytes")?;
    if crate::sha256(&output.output) != hash {
        return Err("output does not match its hash");
    }
    let runtime = output.runtime.clone().unwrap_or_default();
    let digest = ResultClaim {
        job_id,
        attempt: output.attempt,
        output_hash: &hash,
        executor: &runtime.executor,
        device: &runtime.device,
    }
    .digest();
    let signed = operators
        .get(node)
        .is_some_and(|op| crate::keys::verify(&op.pubkey, &digest, &output.node_signature));
    if !signed {
        return Err("the node's result claim is not signed by its registered key");
    }
    Ok(hash)
}
