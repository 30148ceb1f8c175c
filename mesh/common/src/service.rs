//! The daemon lifecycle: logging, SIGTERM/SIGINT, systemd readiness (`Type=notify`) and watchdog.

use std::time::Duration;

/// Logs to stderr as text, or as one JSON object per line (`json = true`); `RUST_LOG` filters
/// (default `info`).
pub fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Tells systemd the daemon is ready, and keeps its watchdog fed at half the interval it asks
/// for. Does nothing outside systemd.
pub fn notify_ready() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let mut usec = 0u64;
    if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
        let every = Duration::from_micros(usec / 2);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
        });
    }
}

/// Tells systemd the daemon is stopping.
pub fn notify_stopping() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
}

/// A reconnect delay: doubles from 100 ms to 10 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((100u64 << attempt.min(7)).min(10_000))
}

/// A channel to a router, over TLS as `tls` says (see [`crate::tls::endpoint`]): TCP_NODELAY,
/// HTTP/2 keepalive every 30 s (NAT-friendly).
pub async fn dial(
    url: &str,
    tls: &crate::tls::ClientTls,
) -> Result<tonic::transport::Channel, String> {
    crate::tls::endpoint(url, tls)
        .map_err(|e| e.to_string())?
        .http2_keep_alive_interval(Duration::from_secs(30))
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))
}

/// Runs `session` against `url` again and again, backing off after failures, until `stopped`.
pub async fn keep_connected<F, Fut>(url: &str, stopped: impl Fn() -> bool, mut session: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut attempt = 0u32;
    while !stopped() {
        match session().await {
            Ok(()) => attempt = 0,
            Err(e) => {
                tracing::warn!(router = url, error = e, "router session ended");
                attempt += 1;
            }
        }
        if stopped() {
            return;
        }
        tokio::time::sleep(backoff(attempt)).await;
    }
}

/// `--init-key FILE` for the daemons: writes a fresh key (mode 0600, never over an existing file)
/// and prints its public key, or one line of error.
pub fn init_key_command(program: &str, path: &std::path::Path) -> std::process::ExitCode {
    match crate::keys::generate_keyfile(path) {
        Ok(key) => {
            println!("{}", hex::encode(crate::keys::pubkey(&key)));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Memory available to new work, in bytes (`MemAvailable` from /proc/meminfo; 0 where unknown).
/// The LibTorch runtime reports accelerator memory instead when it runs on a GPU.
pub fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(30), Duration::from_secs(10));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn available_memory_is_read_on_linux() {
        let bytes = available_memory();
        assert!(bytes > 1 << 20, "{bytes}");
    }
}
