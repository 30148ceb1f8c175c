//! `cargo run --release -p havn-mesh-bench [-- --jobs N]`: prints a table of jobs/s and
//! end-to-end latency (submit → validator quorum, as `WatchJob` reports it) at concurrency 1, 64
//! and 1024, through a real router, two nodes and four validators over localhost gRPC with the
//! `builtin:digest` pipeline at minimal work (one sha256 round), next to a raw tonic unary call
//! (gRPC health `Check`) measured in the same process. The ratio is the figure that travels
//! between machines; absolute numbers depend on the host. `BENCH_CONCURRENCY=1,64` picks levels.
//!
//! `-- --load N` is the router's load test instead (`make load-mesh`: 100,000 jobs): N jobs
//! through the same mesh at concurrency 1024, each followed to SETTLED; it prints jobs/s, the
//! process's resident memory before, at its peak and after retention, and the jobs the router
//! still holds, and fails if a job is lost, memory passes `LOAD_RSS_BOUND`, or the router still
//! holds ended jobs once their retention has passed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use havn_mesh_common::keys;
use havn_mesh_common::operators::{FileOperators, Operator};
use havn_mesh_common::pipeline::{digest_manifest, Executors};
use havn_mesh_proto::v1::{
    job_service_client::JobServiceClient, submit_job_request, JobState, SubmitJobRequest,
    WatchJobRequest, WorkflowRef,
};
use havn_node::{Node, NodeConfig};
use havn_router::{Router, RouterConfig};
use havn_validator::{Validator, ValidatorConfig};
use k256::ecdsa::SigningKey;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

fn key(name: &str) -> SigningKey {
    SigningKey::from_slice(&havn_mesh_common::sha256(
        format!("bench/{name}").as_bytes(),
    ))
    .unwrap()
}

struct Row {
    what: String,
    concurrency: usize,
    done: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn row(what: &str, concurrency: usize, mut lat: Vec<Duration>, seconds: f64) -> Row {
    lat.sort_unstable();
    Row {
        what: what.into(),
        concurrency,
        done: lat.len(),
        seconds,
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
    }
}

/// Runs `total` operations from `concurrency` tasks; each returns its latency.
async fn drive<F, Fut>(concurrency: usize, total: usize, op: F) -> (Vec<Duration>, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Duration> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (op, next) = (op.clone(), next.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= total {
                        return lat;
                    }
                    lat.push(op(i).await);
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all, started.elapsed().as_secs_f64())
}

fn arg(name: &str) -> Option<usize> {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|n| n.parse().ok())
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Some(n) = arg("--load") {
        return runtime.block_on(load(n));
    }
    runtime.block_on(run(arg("--jobs").unwrap_or(4096)));
}

/// The whole process's resident memory, in MiB (router, nodes and validators share it).
fn rss_mib() -> f64 {
    let pages: f64 = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1 << 20) as f64
}

/// The bound the load test holds the process to: router, two nodes and four validators.
const LOAD_RSS_BOUND_MIB: f64 = 1536.0;

/// A router, two nodes and four validators in this process, the nodes and validators connected.
struct Mesh {
    router: Router,
    url: String,
    version: [u8; 32],
    _dir: tempfile::TempDir,
}

const MIN_NODE_STAKE: u128 = 1_000;

async fn mesh(retention_ms: u64) -> Mesh {
    let dir = tempfile::tempdir().unwrap();
    // Nodes bonded at 16 × the minimum stake (1 000): at the router's shipped 16 slots per unit,
    // each may hold 256 jobs (`max_node_slots`), as a node sized for this load would bond.
    let ops: Vec<Operator> = (0..2)
        .map(|i| (format!("node-{i}"), 16 * MIN_NODE_STAKE, 0))
        .chain((0..4).map(|i| (format!("validator-{i}"), 0, 1_000)))
        .map(|(address, node_stake, validator_stake)| Operator {
            pubkey: keys::pubkey(&key(&address)),
            address,
            node_stake,
            validator_stake,
        })
        .collect();
    let operators =
        Arc::new(FileOperators::from_operators(ops).with_node_stake_unit(MIN_NODE_STAKE));
    let cfg = RouterConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("router"),
        artifacts_dir: dir.path().join("artifacts"),
        execution_log: "wasm1log".into(),
        max_queue: 1 << 20,
        settlement_batch: 50,
        settlement_interval_ms: 200,
        retention_ms,
        ..RouterConfig::default()
    };
    let router = Router::start(cfg, operators.clone()).await.unwrap();
    let (manifest, version) = digest_manifest("bench", 1);
    router.artifacts.put(&manifest).unwrap();
    let url = format!("http://{}", router.addr);
    for i in 0..2 {
        let cfg = NodeConfig {
            routers: vec![url.clone()],
            operator: format!("node-{i}"),
            slots: 1024,
            cache_dir: dir.path().join(format!("node-{i}")),
            ..NodeConfig::default()
        };
        let node = Node::new(cfg, key(&format!("node-{i}")), Executors::builtin()).unwrap();
        tokio::spawn(node.run(std::future::pending()));
    }
    for i in 0..4 {
        let cfg = ValidatorConfig {
            routers: vec![url.clone()],
            operator: format!("validator-{i}"),
            cache_dir: dir.path().join(format!("validator-{i}")),
            ..ValidatorConfig::default()
        };
        let v = Validator::new(
            cfg,
            key(&format!("validator-{i}")),
            operators.clone(),
            Executors::builtin(),
        )
        .unwrap();
        tokio::spawn(v.run(std::future::pending()));
    }
    while router.core.lock().unwrap().node_load().len() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    Mesh {
        router,
        url,
        version,
        _dir: dir,
    }
}

/// Submits a job with this input; its id.
async fn submit(c: &mut JobServiceClient<Channel>, version: [u8; 32], input: String) -> u64 {
    c.submit_job(SubmitJobRequest {
        workflow: Some(WorkflowRef {
            workflow_id: 1,
            version_hash: version.to_vec(),
        }),
        input: Some(submit_job_request::Input::InlineInput(input.into_bytes())),
        caller: "bench".into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .job_id
}

/// Follows a job until `until` holds for an event (or the stream says done); its last state.
async fn follow(
    c: &mut JobServiceClient<Channel>,
    id: u64,
    until: impl Fn(&havn_mesh_proto::v1::JobEvent) -> bool,
) -> i32 {
    let mut events = c
        .watch_job(WatchJobRequest {
            job_id: id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut last = JobState::Unspecified as i32;
    while let Some(e) = events.message().await.unwrap() {
        last = e.state;
        if e.done {
            // Read the stream to its end: dropping it unfinished resets it, and an HTTP/2
            // server closes a connection after a thousand resets.
            while events.message().await.unwrap().is_some() {}
            break;
        }
        if until(&e) {
            break;
        }
    }
    last
}

/// Issue 16's load test: `total` jobs through one router; memory bounded and back after
/// retention, nothing lost.
async fn load(total: usize) {
    // Retention 5 s instead of the shipped 10 min: so the run shows ended jobs leaving memory
    // within it. Everything else is the shipped config (validators at the default sample rate).
    let retention = Duration::from_secs(5);
    let m = mesh(retention.as_millis() as u64).await;
    let before = rss_mib();
    let peak = Arc::new(std::sync::Mutex::new(before));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let now = rss_mib();
                {
                    let mut p = peak.lock().unwrap();
                    *p = p.max(now);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let channel = Channel::from_shared(m.url.clone())
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap();
    let client = JobServiceClient::new(channel);
    let version = m.version;
    let settled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = settled.clone();
    let (_, secs) = drive(1024, total, move |i| {
        let mut c = client.clone();
        let settled = counted.clone();
        async move {
            let t = Instant::now();
            let id = submit(&mut c, version, format!("load {i}")).await;
            if follow(&mut c, id, |_| false).await == JobState::Settled as i32 {
                settled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            t.elapsed()
        }
    })
    .await;
    let held_at_end = m.router.core.lock().unwrap().jobs_held();
    tokio::time::sleep(retention + Duration::from_secs(2)).await;
    let held_after = m.router.core.lock().unwrap().jobs_held();
    sampler.abort();
    let (peak, after) = (*peak.lock().unwrap(), rss_mib());
    let settled = settled.load(std::sync::atomic::Ordering::Relaxed);
    println!("router load test: {total} jobs at concurrency 1024, 1 router, 2 nodes, 4 validators (shipped sample rate), builtin:digest, localhost gRPC, retention 5 s");
    println!(
        "{:>8} {:>8} {:>6} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "jobs",
        "settled",
        "lost",
        "jobs/s",
        "RSS0 MiB",
        "peak MiB",
        "after MiB",
        "held@end",
        "held+ret"
    );
    println!(
        "{:>8} {:>8} {:>6} {:>8.0} {:>10.0} {:>10.0} {:>10.0} {:>10} {:>10}",
        total,
        settled,
        total - settled,
        total as f64 / secs,
        before,
        peak,
        after,
        held_at_end,
        held_after
    );
    println!(
        "bound: peak RSS under {LOAD_RSS_BOUND_MIB} MiB; 0 lost; 0 jobs held once retention passed"
    );
    let ok = settled == total && peak < LOAD_RSS_BOUND_MIB && held_after == 0;
    if !ok {
        eprintln!("load test failed");
        std::process::exit(1);
    }
}

async fn run(jobs: usize) {
    let m = mesh(RouterConfig::default().retention_ms).await;
    let (router, url, version) = (&m.router, m.url.clone(), m.version);

    let channel = Channel::from_shared(url.clone())
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap();
    let mut rows = Vec::new();
    let levels: Vec<usize> = match std::env::var("BENCH_CONCURRENCY") {
        Ok(c) => c.split(',').filter_map(|x| x.parse().ok()).collect(),
        Err(_) => vec![1, 64, 1024],
    };
    for concurrency in levels {
        let n = if concurrency == 1 {
            jobs.min(2000)
        } else {
            jobs
        };
        // Baseline: the same number of raw tonic unary calls on the same server.
        let health = HealthClient::new(channel.clone());
        let (lat, secs) = drive(concurrency, n, move |_| {
            let mut h = health.clone();
            async move {
                let t = Instant::now();
                h.check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .unwrap();
                t.elapsed()
            }
        })
        .await;
        rows.push(row("tonic unary (baseline)", concurrency, lat, secs));

        let client = JobServiceClient::new(channel.clone());
        let (lat, secs) = drive(concurrency, n, move |i| {
            let mut c = client.clone();
            async move {
                let t = Instant::now();
                let id = submit(&mut c, version, format!("job {concurrency}/{i}")).await;
                let state = follow(&mut c, id, |e| e.state >= JobState::Verified as i32).await;
                assert_ne!(state, JobState::Failed as i32, "job {id} failed");
                t.elapsed()
            }
        })
        .await;
        rows.push(row("job: submit → quorum", concurrency, lat, secs));
    }

    println!("mesh benchmark: 1 router, 2 nodes, 4 validators (5% re-execution), builtin:digest × 1 round, localhost gRPC");
    println!(
        "{:<26} {:>11} {:>8} {:>10} {:>9} {:>9} {:>14}",
        "operation", "concurrency", "done", "per s", "p50 ms", "p99 ms", "vs baseline"
    );
    for pair in rows.chunks(2) {
        let base = pair[0].done as f64 / pair[0].seconds;
        for r in pair {
            let rate = r.done as f64 / r.seconds;
            println!(
                "{:<26} {:>11} {:>8} {:>10.0} {:>9.2} {:>9.2} {:>13.3}×",
                r.what,
                r.concurrency,
                r.done,
                rate,
                r.p50_ms,
                r.p99_ms,
                rate / base
            );
        }
    }
    // The floor under a job's cost: per job the node signs its claim, each of 4 validators checks
    // it and signs an attestation, and the router checks the claim and 3 attestations.
    let k = key("reference");
    let digest = havn_mesh_common::sha256(b"reference");
    let t = Instant::now();
    let mut sig = Vec::new();
    for _ in 0..500 {
        sig = keys::sign(&k, &digest);
    }
    let sign_us = t.elapsed().as_secs_f64() * 1e6 / 500.0;
    let pk = keys::pubkey(&k);
    let t = Instant::now();
    for _ in 0..500 {
        assert!(keys::verify(&pk, &digest, &sig));
    }
    let verify_us = t.elapsed().as_secs_f64() * 1e6 / 500.0;
    println!(
        "secp256k1 on this host: sign {sign_us:.0} µs, verify {verify_us:.0} µs; 5 signs + 8 verifies per job = {:.2} ms of CPU",
        (5.0 * sign_us + 8.0 * verify_us) / 1e3
    );
    let m = &router.core.lock().unwrap().metrics;
    println!(
        "router totals: {} submitted, {} verified, {} settled, {} failed, {} reassigned",
        m.submitted.get(),
        m.verified.get(),
        m.settled.get(),
        m.failed.get(),
        m.reassigned.get()
    );
}
