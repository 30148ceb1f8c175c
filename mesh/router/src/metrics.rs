//! What the router exports on `/metrics` (names follow Triton / vLLM: running vs waiting, queue vs
//! execution time).

use havn_mesh_common::metrics::{Counter, Exposition, Gauge, Histogram};

#[derive(Default)]
pub struct RouterMetrics {
    pub submitted: Counter,
    pub rejected: Counter,
    pub verified: Counter,
    pub settled: Counter,
    pub failed: Counter,
    pub cancelled: Counter,
    pub reassigned: Counter,
    pub double_signs: Counter,
    pub escalated: Counter,
    pub chain_rejected: Counter,
    pub running: Gauge,
    pub waiting: Gauge,
    pub verifying: Gauge,
    pub nodes: Gauge,
    pub validators: Gauge,
    pub queue_seconds: Histogram,
    pub execution_seconds: Histogram,
    pub verify_seconds: Histogram,
    pub end_to_end_seconds: Histogram,
}

impl RouterMetrics {
    pub fn render(&self, node_load: &[(String, u64)]) -> String {
        Exposition::default()
            .counter(
                "havn_router_jobs_submitted_total",
                "Jobs accepted.",
                &self.submitted,
            )
            .counter(
                "havn_router_jobs_rejected_total",
                "Jobs refused because the queue was full.",
                &self.rejected,
            )
            .counter(
                "havn_router_jobs_verified_total",
                "Jobs a validator quorum attested valid.",
                &self.verified,
            )
            .counter(
                "havn_router_jobs_settled_total",
                "Jobs in a settlement batch.",
                &self.settled,
            )
            .counter(
                "havn_router_jobs_failed_total",
                "Jobs that failed (invalid, deadline, attempts).",
                &self.failed,
            )
            .counter(
                "havn_router_jobs_chain_rejected_total",
                "Settled jobs the chain refused (dead letters).",
                &self.chain_rejected,
            )
            .counter(
                "havn_router_jobs_escalated_total",
                "Jobs a validator attested invalid, sent to every validator to re-execute.",
                &self.escalated,
            )
            .counter(
                "havn_router_double_signs_total",
                "Validators caught signing two verdicts for one job (evidence reported).",
                &self.double_signs,
            )
            .counter(
                "havn_router_jobs_cancelled_total",
                "Jobs cancelled by their caller.",
                &self.cancelled,
            )
            .counter(
                "havn_router_jobs_reassigned_total",
                "Assignments taken back (node died, lease expired, refused result).",
                &self.reassigned,
            )
            .gauge(
                "havn_router_jobs_running",
                "Jobs leased to a node now.",
                self.running.get(),
            )
            .gauge(
                "havn_router_jobs_waiting",
                "Jobs queued for a node now.",
                self.waiting.get(),
            )
            .gauge(
                "havn_router_jobs_verifying",
                "Results waiting for a validator quorum.",
                self.verifying.get(),
            )
            .gauge(
                "havn_router_nodes_connected",
                "Node streams open.",
                self.nodes.get(),
            )
            .gauge(
                "havn_router_validators_connected",
                "Validator streams open.",
                self.validators.get(),
            )
            .gauges(
                "havn_router_node_jobs_running",
                "Jobs running per node.",
                "node",
                node_load,
            )
            .histogram(
                "havn_router_queue_seconds",
                "Time from accepted to leased.",
                &self.queue_seconds,
            )
            .histogram(
                "havn_router_execution_seconds",
                "Time from leased to result.",
                &self.execution_seconds,
            )
            .histogram(
                "havn_router_verify_seconds",
                "Time from result to quorum.",
                &self.verify_seconds,
            )
            .histogram(
                "havn_router_end_to_end_seconds",
                "Time from accepted to quorum.",
                &self.end_to_end_seconds,
            )
            .finish()
    }
}
